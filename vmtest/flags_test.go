package vmtest

import "testing"

func TestRunPatternSplit(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"TestGuest", ""},
		{"TestGuest$", ""},
		{"TestGuest/TestSeedUnicast", "TestSeedUnicast"},
		{"TestGuest/TestPortZeroHazards/spoofed", "TestPortZeroHazards/spoofed"},
		{"TestGuest/TestSeedUnicast|TestGuest/TestBindConflict", "TestSeedUnicast|TestBindConflict"},
		{"TestGuest/TestA|TestOther", "TestA"},
		{"TestGuest/TestA|TestGuest", ""},
		{"TestRunPatternSplit|TestGuest/TestA", "TestA"},
		{"TestGuest/(a|b)", "(a|b)"},
		{"TestGuest/[|]", "[|]"},
		{"TestGuest/^TestClaimC(1|2)$", "^TestClaimC(1|2)$"},
		{"Test[/]Guest", ""},
		{"TestGuest/a\\/b", "a\\/b"},
		{"TestGuest/(a/b)", "(a/b)"},
	} {
		if got := GuestPattern(tt.in); got != tt.want {
			t.Errorf("GuestPattern(%q)\n- want: %q\n-  got: %q", tt.in, tt.want, got)
		}
	}
}
