package netlink

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// macroLengths are the lengths the C macros and the Go helpers are compared
// on: every small length, and large ones up to the last that NLMSG_SPACE
// does not wrap around 2^32.
func macroLengths() []uint32 {
	var ns []uint32
	for n := uint32(0); n <= 70; n++ {
		ns = append(ns, n)
	}
	return append(ns, 1000, 1021, 1023, 1024, 1025, 4093, 4096, 16383, 32768,
		65535, 65536, 1<<20+1, 1<<24-1, 1<<30, 1<<31-1, 1<<31, 0xffffffe0, 0xffffffec)
}

// macroProgram prints, one per line, "name arguments... value" for the
// <linux/netlink.h> constants and for every NLMSG_* macro on the lengths
// given.
const macroProgram = `#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>

static const unsigned int ns[] = { %s };
#define N (sizeof(ns) / sizeof(ns[0]))

int main(void)
{
	unsigned int i, j;
	int len;
	union { struct nlmsghdr h; char b[64]; } buf;

	printf("const NLMSG_HDRLEN %%d\n", (int)NLMSG_HDRLEN);
	printf("const NLMSG_ALIGNTO %%u\n", (unsigned int)NLMSG_ALIGNTO);
	printf("const sizeof_nlmsghdr %%u\n", (unsigned int)sizeof(struct nlmsghdr));
	printf("const NLMSG_NOOP %%d\n", NLMSG_NOOP);
	printf("const NLMSG_ERROR %%d\n", NLMSG_ERROR);
	printf("const NLMSG_DONE %%d\n", NLMSG_DONE);
	printf("const NLMSG_OVERRUN %%d\n", NLMSG_OVERRUN);
	printf("const NLMSG_MIN_TYPE %%d\n", NLMSG_MIN_TYPE);
	printf("const NLM_F_REQUEST %%d\n", NLM_F_REQUEST);
	printf("const NLM_F_MULTI %%d\n", NLM_F_MULTI);
	printf("const NLM_F_ACK %%d\n", NLM_F_ACK);
	printf("const NLM_F_ECHO %%d\n", NLM_F_ECHO);
	printf("const NLM_F_DUMP_INTR %%d\n", NLM_F_DUMP_INTR);
	printf("const NLM_F_DUMP_FILTERED %%d\n", NLM_F_DUMP_FILTERED);
	printf("const NLM_F_ROOT %%d\n", NLM_F_ROOT);
	printf("const NLM_F_MATCH %%d\n", NLM_F_MATCH);
	printf("const NLM_F_ATOMIC %%d\n", NLM_F_ATOMIC);
	printf("const NLM_F_DUMP %%d\n", NLM_F_DUMP);
	printf("const NLM_F_REPLACE %%d\n", NLM_F_REPLACE);
	printf("const NLM_F_EXCL %%d\n", NLM_F_EXCL);
	printf("const NLM_F_CREATE %%d\n", NLM_F_CREATE);
	printf("const NLM_F_APPEND %%d\n", NLM_F_APPEND);

	for (i = 0; i < N; i++) {
		printf("NLMSG_ALIGN %%u %%u\n", ns[i], (unsigned int)NLMSG_ALIGN(ns[i]));
		printf("NLMSG_LENGTH %%u %%u\n", ns[i], (unsigned int)NLMSG_LENGTH(ns[i]));
		printf("NLMSG_SPACE %%u %%u\n", ns[i], (unsigned int)NLMSG_SPACE(ns[i]));
	}
	/* NLMSG_PAYLOAD(nlh, len): every nlmsg_len against small protocol
	 * header lengths. */
	for (i = 0; i < N; i++)
		for (j = 0; j <= 70; j++) {
			buf.h.nlmsg_len = ns[i];
			printf("NLMSG_PAYLOAD %%u %%u %%u\n", ns[i], j,
			       (unsigned int)NLMSG_PAYLOAD(&buf.h, j));
		}
	/* NLMSG_OK and NLMSG_NEXT on a buffer of len bytes whose header
	 * claims nlmsg_len bytes. */
	for (i = 0; i <= 40; i++)
		for (len = 0; len <= 40; len++) {
			struct nlmsghdr *nlh = &buf.h, *next;
			int rest = len;

			memset(&buf, 0, sizeof(buf));
			buf.h.nlmsg_len = i;
			if (!NLMSG_OK(nlh, len)) {
				printf("NLMSG_OK %%u %%d 0\n", i, len);
				continue;
			}
			next = NLMSG_NEXT(nlh, rest);
			printf("NLMSG_OK %%u %%d 1 %%d %%d\n", i, len,
			       (int)((char *)next - buf.b), rest);
		}
	return 0;
}
`

// findCC returns a C compiler: $CC, else cc, gcc or clang from $PATH.
func findCC() (string, error) {
	if cc := os.Getenv("CC"); cc != "" {
		return exec.LookPath(cc)
	}
	var err error
	for _, name := range []string{"cc", "gcc", "clang"} {
		var p string
		if p, err = exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", err
}

// TestMacrosMatchC compiles the NLMSG_* macros of <linux/netlink.h> with
// the system's C compiler and checks that the Go helpers and constants give
// the same values, bit for bit.
func TestMacrosMatchC(t *testing.T) {
	cc, err := findCC()
	if err != nil {
		msg := fmt.Sprintf("no C compiler ($CC, cc, gcc or clang) to build <linux/netlink.h>'s macros with: %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set: install gcc rather than skip)")
		}
		t.Skip(msg)
	}

	ns := macroLengths()
	lits := make([]string, len(ns))
	for i, n := range ns {
		lits[i] = fmt.Sprintf("%#xu", n)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "macros.c")
	bin := filepath.Join(dir, "macros")
	require.NoError(t, os.WriteFile(src, fmt.Appendf(nil, macroProgram, strings.Join(lits, ", ")), 0o644))
	out, err := exec.Command(cc, "-std=c99", "-Wall", "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "compiling with %s (are the kernel headers, linux-libc-dev, installed?):\n%s", cc, out)
	out, err = exec.Command(bin).Output()
	require.NoError(t, err, "running the compiled program")

	constants := map[string]int{
		"NLMSG_HDRLEN":        HeaderLen,
		"NLMSG_ALIGNTO":       AlignTo,
		"sizeof_nlmsghdr":     HeaderLen,
		"NLMSG_NOOP":          int(Noop),
		"NLMSG_ERROR":         int(Error),
		"NLMSG_DONE":          int(Done),
		"NLMSG_OVERRUN":       int(Overrun),
		"NLMSG_MIN_TYPE":      int(MinType),
		"NLM_F_REQUEST":       int(Request),
		"NLM_F_MULTI":         int(Multi),
		"NLM_F_ACK":           int(Acknowledge),
		"NLM_F_ECHO":          int(Echo),
		"NLM_F_DUMP_INTR":     int(DumpInterrupted),
		"NLM_F_DUMP_FILTERED": int(DumpFiltered),
		"NLM_F_ROOT":          int(Root),
		"NLM_F_MATCH":         int(Match),
		"NLM_F_ATOMIC":        int(Atomic),
		"NLM_F_DUMP":          int(Dump),
		"NLM_F_REPLACE":       int(Replace),
		"NLM_F_EXCL":          int(Excl),
		"NLM_F_CREATE":        int(Create),
		"NLM_F_APPEND":        int(Append),
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.GreaterOrEqual(t, len(f), 2, "line %q", sc.Text())
		v := make([]int, len(f)-1)
		for i, s := range f[1:] {
			if i == 0 && f[0] == "const" {
				continue
			}
			n, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err, "line %q", sc.Text())
			v[i] = int(n)
		}
		counts[f[0]]++

		var want, got int
		switch f[0] {
		case "const":
			name := f[1]
			goValue, ok := constants[name]
			require.True(t, ok, "constant %s has no Go counterpart in this test", name)
			assert.Equal(t, v[1], goValue, "%s\n- want: %d (C)\n-  got: %d (Go)", name, v[1], goValue)
			continue
		case "NLMSG_ALIGN":
			want, got = v[1], Align(v[0])
		case "NLMSG_LENGTH":
			want, got = v[1], Length(v[0])
		case "NLMSG_SPACE":
			want, got = v[1], Space(v[0])
		case "NLMSG_PAYLOAD":
			// The macro computes in uint32: compare the bits.
			want, got = v[2], int(uint32(Payload(Header{Length: uint32(v[0])}, v[1])))
		case "NLMSG_OK":
			b := buf(v[1], uint32(v[0]))
			ok := OK(b)
			assert.Equal(t, v[2] == 1, ok, "NLMSG_OK(nlmsg_len %d, len %d)\n- want: %v (C)\n-  got: %v (Go)", v[0], v[1], v[2] == 1, ok)
			if !ok || v[2] != 1 {
				continue
			}
			next := Next(b)
			wantRest := max(v[4], 0) // NLMSG_NEXT may leave len negative
			assert.Equal(t, wantRest, len(next), "NLMSG_NEXT(nlmsg_len %d, len %d) remaining length\n- want: %d (C)\n-  got: %d (Go)", v[0], v[1], wantRest, len(next))
			if v[4] >= 0 {
				gotOff := len(b) - len(next)
				assert.Equal(t, v[3], gotOff, "NLMSG_NEXT(nlmsg_len %d, len %d) offset\n- want: %d (C)\n-  got: %d (Go)", v[0], v[1], v[3], gotOff)
			}
			continue
		default:
			t.Fatalf("unexpected line %q", sc.Text())
		}
		assert.Equal(t, want, got, "%s(%v)\n- want: %d (C)\n-  got: %d (Go)", f[0], v[:len(v)-1], want, got)
	}
	require.NoError(t, sc.Err())

	wantCounts := map[string]int{
		"const":         len(constants),
		"NLMSG_ALIGN":   len(ns),
		"NLMSG_LENGTH":  len(ns),
		"NLMSG_SPACE":   len(ns),
		"NLMSG_PAYLOAD": len(ns) * 71,
		"NLMSG_OK":      41 * 41,
	}
	assert.Equal(t, wantCounts, counts, "lines of output per macro\n- want: %v\n-  got: %v", wantCounts, counts)
}
