// Package kernel fetches, configures, builds and caches the pinned Linux
// kernels that netl's VMs boot, and builds out-of-tree modules against them.
package kernel

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"

	netl "github.com/netl-dev/netl"
)

// DefaultSeries is the series a run uses when none is named.
const DefaultSeries = "6.12"

// Pin names one exact Debian source package for a kernel series.
type Pin struct {
	Series  string // what users type: "6.12"
	Package string // Debian package: "linux-source-6.12"
	Version string // Debian version: "6.12.117-1"
	Suite   string // Debian suite that serves it: "trixie"
	SHA256  string // of the .deb, lower-case hex
}

// DebName is the file name apt-get download writes for the pin.
func (p Pin) DebName() string {
	// apt escapes ':' (epochs) as %3a in file names; Debian kernels have no epoch.
	return fmt.Sprintf("%s_%s_all.deb", p.Package, p.Version)
}

var (
	seriesRE  = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	packageRE = regexp.MustCompile(`^linux-source-[0-9]+\.[0-9]+$`)
)

// ParsePins parses a pin file: one "series package version suite sha256"
// line per series, '#' comments and blank lines ignored. Every error names
// the line.
func ParsePins(data []byte) (map[string]Pin, error) {
	pins := make(map[string]Pin)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return nil, fmt.Errorf("pins line %d: want 5 fields (series package version suite sha256), got %d", n, len(f))
		}
		p := Pin{Series: f[0], Package: f[1], Version: f[2], Suite: f[3], SHA256: strings.ToLower(f[4])}
		switch {
		case !seriesRE.MatchString(p.Series):
			return nil, fmt.Errorf("pins line %d: series %q is not MAJOR.MINOR", n, p.Series)
		case !packageRE.MatchString(p.Package):
			return nil, fmt.Errorf("pins line %d: package %q is not linux-source-MAJOR.MINOR", n, p.Package)
		case p.Package != "linux-source-"+p.Series:
			return nil, fmt.Errorf("pins line %d: package %q does not match series %s", n, p.Package, p.Series)
		case !strings.HasPrefix(p.Version, p.Series+"."):
			return nil, fmt.Errorf("pins line %d: version %q is not in series %s", n, p.Version, p.Series)
		case !sha256RE.MatchString(p.SHA256):
			return nil, fmt.Errorf("pins line %d: sha256 %q is not 64 hex digits", n, f[4])
		}
		if _, dup := pins[p.Series]; dup {
			return nil, fmt.Errorf("pins line %d: series %s pinned twice", n, p.Series)
		}
		pins[p.Series] = p
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("pins: no series pinned")
	}
	return pins, nil
}

// Pins returns the pins embedded from kernel-config/pins.txt.
func Pins() (map[string]Pin, error) {
	data, err := fs.ReadFile(netl.KernelConfig, "kernel-config/pins.txt")
	if err != nil {
		return nil, err
	}
	return ParsePins(data)
}

// Series returns the pinned series, oldest first.
func Series(pins map[string]Pin) []string {
	s := make([]string, 0, len(pins))
	for k := range pins {
		s = append(s, k)
	}
	sort.Slice(s, func(i, j int) bool { return versionLess(s[i], s[j]) })
	return s
}

// LookupPin returns the pin for a series, or an error that lists the known ones.
func LookupPin(series string) (Pin, error) {
	pins, err := Pins()
	if err != nil {
		return Pin{}, err
	}
	p, ok := pins[series]
	if !ok {
		return Pin{}, fmt.Errorf("unknown kernel series %q: pinned series are %s (kernel-config/pins.txt)",
			series, strings.Join(Series(pins), ", "))
	}
	return p, nil
}

func versionLess(a, b string) bool {
	var a1, a2, b1, b2 int
	fmt.Sscanf(a, "%d.%d", &a1, &a2)
	fmt.Sscanf(b, "%d.%d", &b1, &b2)
	if a1 != b1 {
		return a1 < b1
	}
	return a2 < b2
}
