package vmtest

import (
	"flag"
	"strings"
)

// testFlag is the value of one of go test's own flags ("test.run"), empty
// when it is not set.
func testFlag(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// GuestPattern is the part of a go test -run (or -skip) pattern that names
// guest tests: TestGuest/TestSeedUnicast selects TestSeedUnicast in the
// guest, TestGuest/TestClaimC1/SOCK_RAW its subtest. A pattern with no
// second element selects every guest test (""). Patterns are split as go
// test splits them: on each slash outside brackets and parentheses.
func GuestPattern(pattern string) string {
	parts := splitRegexp(pattern)
	if len(parts) < 2 {
		return ""
	}
	return strings.Join(parts[1:], "/")
}

// splitRegexp is the testing package's: it splits a -run pattern into its
// per-level elements.
func splitRegexp(s string) []string {
	if s == "" {
		return nil
	}
	var parts []string
	cs, cp := 0, 0 // depth in [] and ()
	for i := 0; i < len(s); {
		switch s[i] {
		case '[':
			cs++
		case ']':
			if cs--; cs < 0 {
				cs = 0
			}
		case '(':
			if cs == 0 {
				cp++
			}
		case ')':
			if cs == 0 {
				cp--
			}
		case '\\':
			i++
		case '/':
			if cs == 0 && cp == 0 {
				parts = append(parts, s[:i])
				s = s[i+1:]
				i = 0
				continue
			}
		}
		i++
	}
	return append(parts, s)
}
