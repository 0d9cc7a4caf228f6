package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	netl "github.com/netl-dev/netl"
	"github.com/netl-dev/netl/internal/cache"
)

// Fragment is one kernel config fragment merged on top of tinyconfig.
type Fragment struct {
	Name string
	Data []byte
}

// recipe changes whenever the way a kernel is built changes, so that a new
// recipe never reuses a tree the old one built.
const recipe = "netl-kernel-recipe-1"

var optionRE = regexp.MustCompile(`^(CONFIG_[A-Za-z0-9_]+)=(.+)$`)
var unsetRE = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)

// ParseFragment checks a fragment's syntax and returns its options: value
// "n" stands for "# CONFIG_X is not set".
func ParseFragment(name string, data []byte) (map[string]string, error) {
	opts := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var key, val string
		if m := unsetRE.FindStringSubmatch(line); m != nil {
			key, val = m[1], "n"
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		} else if m := optionRE.FindStringSubmatch(line); m != nil {
			key, val = m[1], m[2]
		} else {
			return nil, fmt.Errorf("%s:%d: not a config line: %q (want CONFIG_X=y, CONFIG_X=\"str\" or \"# CONFIG_X is not set\")", name, n, line)
		}
		if old, dup := opts[key]; dup && old != val {
			return nil, fmt.Errorf("%s:%d: %s set twice (%s, then %s)", name, n, key, old, val)
		}
		opts[key] = val
	}
	return opts, sc.Err()
}

// Fragments returns the fragments for a series: base.config, then
// series-<SERIES>.config when it exists, then the extra ones given.
func Fragments(series string, extra ...Fragment) ([]Fragment, error) {
	base, err := fs.ReadFile(netl.KernelConfig, "kernel-config/base.config")
	if err != nil {
		return nil, err
	}
	frags := []Fragment{{Name: "kernel-config/base.config", Data: base}}
	over, err := fs.ReadFile(netl.KernelConfig, "kernel-config/series-"+series+".config")
	switch {
	case err == nil:
		frags = append(frags, Fragment{Name: "kernel-config/series-" + series + ".config", Data: over})
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	frags = append(frags, extra...)
	for _, f := range frags {
		if _, err := ParseFragment(f.Name, f.Data); err != nil {
			return nil, err
		}
	}
	return frags, nil
}

// wantedOptions merges the fragments' options, later fragments winning as
// merge_config.sh does.
func wantedOptions(frags []Fragment) map[string]string {
	want := make(map[string]string)
	for _, f := range frags {
		opts, _ := ParseFragment(f.Name, f.Data) // checked by Fragments
		for k, v := range opts {
			want[k] = v
		}
	}
	return want
}

// checkConfig reports the options that the fragments asked for and the final
// .config does not have: Kconfig silently drops an option whose dependencies
// are not met, and a kernel without, say, 9P_FS only fails much later.
func checkConfig(dotconfig []byte, frags []Fragment) error {
	have, err := ParseFragment(".config", dotconfig)
	if err != nil {
		return err
	}
	var missing []string
	for k, v := range wantedOptions(frags) {
		got, ok := have[k]
		if !ok {
			got = "n"
		}
		if got != v {
			missing = append(missing, fmt.Sprintf("%s=%s (got %s)", k, v, got))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("kernel config dropped %d requested option(s), usually an unmet dependency:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
	return nil
}

// cacheKey identifies a build: the pin (or local source), the fragments and
// the recipe.
func cacheKey(source string, frags []Fragment) string {
	k := cache.NewKey()
	k.Printf("%s\n%s\n", recipe, source)
	for _, f := range frags {
		k.Part(f.Name, f.Data)
	}
	return k.String(12)
}
