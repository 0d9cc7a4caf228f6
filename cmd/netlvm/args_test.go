package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	for _, c := range []struct {
		args   []string
		kernel string
		debug  bool
		pos    []string
	}{
		{[]string{"B2", "-kernel", "all"}, "all", false, []string{"B2"}},
		{[]string{"-kernel", "5.10", "B2"}, "5.10", false, []string{"B2"}},
		{[]string{"6.1", "-debug"}, "6.12", true, []string{"6.1"}},
		{[]string{"-debug"}, "6.12", true, nil},
		{[]string{"a", "b", "-kernel=7.2"}, "7.2", false, []string{"a", "b"}},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		kernel := fs.String("kernel", "6.12", "")
		debug := fs.Bool("debug", false, "")
		pos, err := parseInterleaved(fs, c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *kernel != c.kernel || *debug != c.debug || !reflect.DeepEqual(pos, c.pos) {
			t.Errorf("%q: kernel %q debug %v pos %q; want %q %v %q", c.args, *kernel, *debug, pos, c.kernel, c.debug, c.pos)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseInterleaved(fs, []string{"B2", "-nope"}); err == nil {
		t.Error("an unknown flag after a positional argument was accepted")
	}
}
