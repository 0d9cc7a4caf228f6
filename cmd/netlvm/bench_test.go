package main

import (
	"fmt"
	"testing"
)

func TestBenchEditIsRemovedWhole(t *testing.T) {
	orig := "int x;\n/* netlvm bench edit is a phrase in a comment */\n"
	edited := orig + fmt.Sprintf("/* netlvm bench edit %d %d */\n", 1764412345678901234, 3)
	if got := string(benchEdit.ReplaceAll([]byte(edited), nil)); got != orig {
		t.Errorf("a left-over bench edit\n- want: %q\n-  got: %q", orig, got)
	}
	if got := string(benchEdit.ReplaceAll([]byte(orig), nil)); got != orig {
		t.Errorf("a file without the edit\n- want: %q\n-  got: %q", orig, got)
	}
}
