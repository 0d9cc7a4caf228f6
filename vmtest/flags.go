package vmtest

import (
	"flag"
	"regexp"
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
// guest, TestGuest/TestPortZeroHazards/spoofed its subtest, and
// TestGuest/TestA|TestGuest/TestB both. An alternative that stops at
// TestGuest selects every guest test (""). Patterns are split as go test
// splits them (src/testing/match.go): into alternatives on each top-level
// "|", each into levels on each slash outside brackets and parentheses.
func GuestPattern(pattern string) string {
	var guest []string
	for _, alt := range splitRegexp(pattern) {
		if ok, err := regexp.MatchString(alt[0], "TestGuest"); err != nil || !ok {
			continue // an alternative for another host test
		}
		if len(alt) == 1 {
			return ""
		}
		guest = append(guest, strings.Join(alt[1:], "/"))
	}
	return strings.Join(guest, "|")
}

// splitRegexp is the testing package's: it splits a -run pattern into its
// alternatives, and each into its per-level elements.
func splitRegexp(s string) [][]string {
	if s == "" {
		return nil
	}
	var alts [][]string
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
		case '/', '|':
			if cs == 0 && cp == 0 {
				parts = append(parts, s[:i])
				if s[i] == '|' {
					alts = append(alts, parts)
					parts = nil
				}
				s = s[i+1:]
				i = 0
				continue
			}
		}
		i++
	}
	return append(alts, append(parts, s))
}
