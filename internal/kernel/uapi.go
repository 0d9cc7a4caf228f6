package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// NetlinkConstants are the <linux/netlink.h> constants the seed article
// lists (claim C14), by their C names.
var NetlinkConstants = []string{
	"NLMSG_NOOP", "NLMSG_ERROR", "NLMSG_DONE", "NLMSG_OVERRUN", "NLMSG_MIN_TYPE",
	"NLM_F_REQUEST", "NLM_F_MULTI", "NLM_F_ACK", "NLM_F_ECHO",
	"NLM_F_ROOT", "NLM_F_MATCH", "NLM_F_ATOMIC", "NLM_F_DUMP",
	"NLM_F_REPLACE", "NLM_F_EXCL", "NLM_F_CREATE", "NLM_F_APPEND",
	"NLMSG_ALIGNTO", "NLMSG_HDRLEN",
}

// NetlinkUAPI compiles a program against this kernel's own uapi headers
// (exported from its tree, not the host's /usr/include) and returns the
// values of NetlinkConstants as the compiler sees them.
func (k *Kernel) NetlinkUAPI() (map[string]int64, error) {
	dir, inside, err := k.workDir(os.TempDir(), "netl-uapi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <linux/netlink.h>\nint main(void) {\n")
	for _, c := range NetlinkConstants {
		fmt.Fprintf(&src, "\tprintf(\"%s=%%lld\\n\", (long long)(%s));\n", c, c)
	}
	src.WriteString("\treturn 0;\n}\n")
	if err := os.WriteFile(filepath.Join(dir, "uapi.c"), []byte(src.String()), 0o644); err != nil {
		return nil, err
	}
	var compile, runProg *exec.Cmd
	if k.Prebuilt() {
		// Debian's kernel: its pinned linux-libc-dev, in the build
		// root, compiled and run there as the release's userspace would.
		cc, err := k.compiler(k.buildRoot())
		if err != nil {
			return nil, err
		}
		compile = k.inRoot(cc, "-o", inside+"/uapi", inside+"/uapi.c")
		runProg = k.inRoot(inside + "/uapi")
	} else {
		hdrs, err := k.uapiHeaders()
		if err != nil {
			return nil, err
		}
		compile = exec.Command("gcc", "-o", filepath.Join(dir, "uapi"), "-I", hdrs, filepath.Join(dir, "uapi.c"))
		runProg = exec.Command(filepath.Join(dir, "uapi"))
	}
	if out, err := compile.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling against kernel %s's uapi headers: %w\n%s", k.Series, err, out)
	}
	out, err := runProg.Output()
	if err != nil {
		return nil, fmt.Errorf("running the uapi program: %w", err)
	}
	vals := make(map[string]int64)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, v, ok := strings.Cut(l, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("uapi program printed %q", l)
		}
		vals[name] = n
	}
	return vals, nil
}

// FormatConstants writes constants as "NAME=VALUE" words, sorted.
func FormatConstants(vals map[string]int64) string {
	var w []string
	for k, v := range vals {
		w = append(w, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(w)
	return strings.Join(w, " ")
}

// uapiHeaders exports the kernel's uapi headers (make headers, the
// processed headers a distribution's linux-libc-dev is made of) into the
// build tree's usr/include, once, and returns that directory.
func (k *Kernel) uapiHeaders() (string, error) {
	inc := filepath.Join(k.Dir, "usr", "include")
	// The marker goes last: headers a concurrent run is still writing are
	// never taken for finished ones.
	done := filepath.Join(inc, ".netl-headers-done")
	if _, err := os.Stat(done); err == nil {
		return inc, nil
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	lock, err := LockFile(filepath.Join(dir, "locks", filepath.Base(k.Dir)+".headers.lock"), func() {})
	if err != nil {
		return "", err
	}
	defer lock.Unlock()
	if _, err := os.Stat(done); err == nil {
		return inc, nil // made by whoever held the lock
	}
	args := []string{"-C", k.Dir, "headers"}
	if k.sourceTree() {
		args = []string{"-C", k.Source, "O=" + k.Dir, "headers"}
	}
	if out, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("make headers for kernel %s: %w\n%s", k.Series, err, lastLines(string(out), 20))
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", err
	}
	return inc, nil
}
