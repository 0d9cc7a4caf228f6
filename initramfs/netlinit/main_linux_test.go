package main

import "testing"

// The lines as kernel/time/timer_list.c prints them (P(hres_active):
// "  .%-15s: %Lu"), the same on every pinned series.
func TestHresActive(t *testing.T) {
	for _, c := range []struct {
		list string
		want bool
	}{
		{"cpu: 0\n clock 0:\n  .base:               ffff\n  .hres_active    : 0\n  .nr_events      : 1\n", false},
		{"cpu: 0\n clock 0:\n  .base:               ffff\n  .hres_active    : 1\n  .nr_events      : 1\n", true},
		{"  .hres_active    : 10\n", false},
		{"", false},
	} {
		if got := hresActive.MatchString(c.list); got != c.want {
			t.Errorf("hresActive on %q = %v, want %v", c.list, got, c.want)
		}
	}
}
