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

// DefaultSeries is the series a run uses when none is named and its kernel
// is built; DefaultPrebuilt stands in for it while it is not (see
// DefaultFor).
const (
	DefaultSeries   = "6.12"
	DefaultPrebuilt = "debian-6.12"
)

// PrebuiltPrefix starts the name of every series that is Debian's own
// kernel, prebuilt, rather than one netl builds from source.
const PrebuiltPrefix = "debian-"

// Deb is one Debian package, pinned by version and checksum.
type Deb struct {
	Package string // "linux-source-6.12"
	Version string // Debian version: "6.12.117-1"
	Suite   string // Debian suite that serves it: "trixie"
	SHA256  string // of the .deb, lower-case hex
}

func (d Deb) String() string { return d.Package + " " + d.Version }

// Pin is what a series is pinned to: one linux-source package netl builds
// a kernel from, or (a series named debian-*) the packages of Debian's
// prebuilt kernel: the image (or, from 7.x, its binary, modules
// and base packages), its headers, the common headers, kbuild and
// linux-libc-dev.
type Pin struct {
	Series string // what users type: "6.12", "debian-6.12"
	Debs   []Deb
}

// Prebuilt reports whether the series is Debian's prebuilt kernel.
func (p Pin) Prebuilt() bool { return IsPrebuilt(p.Series) }

// IsPrebuilt reports whether a series name is a Debian prebuilt kernel's.
func IsPrebuilt(series string) bool { return strings.HasPrefix(series, PrebuiltPrefix) }

// Version is the Debian version of the series' packages.
func (p Pin) Version() string { return p.Debs[0].Version }

// Suite is the Debian suite that serves the series' packages.
func (p Pin) Suite() string { return p.Debs[0].Suite }

// Release is a prebuilt kernel's uname -r, read from its headers
// package's name: linux-headers-6.12.117+deb13-amd64 is 6.12.117+deb13-amd64.
func (p Pin) Release() string {
	for _, d := range p.Debs {
		if role(d.Package) == roleHeaders {
			return strings.TrimPrefix(d.Package, "linux-headers-")
		}
	}
	return ""
}

// The role a package plays in a prebuilt series, told by its name.
const (
	roleImage   = "image"   // linux-image-*: vmlinuz and the modules
	roleBinary  = "binary"  // linux-binary-*: vmlinuz alone (7.x)
	roleModules = "modules" // linux-modules-*: the modules alone (7.x)
	roleBase    = "base"    // linux-base-*: config, modules.builtin (7.x)
	roleHeaders = "headers" // linux-headers-RELEASE
	roleCommon  = "common"  // linux-headers-*-common
	roleKbuild  = "kbuild"  // linux-kbuild-*
	roleLibc    = "libc"    // linux-libc-dev: the uapi headers, as userspace sees them
)

func role(pkg string) string {
	switch {
	case strings.HasPrefix(pkg, "linux-image-"):
		return roleImage
	case strings.HasPrefix(pkg, "linux-binary-"):
		return roleBinary
	case strings.HasPrefix(pkg, "linux-modules-"):
		return roleModules
	case strings.HasPrefix(pkg, "linux-base-"):
		return roleBase
	case strings.HasPrefix(pkg, "linux-headers-") && strings.HasSuffix(pkg, "-common"):
		return roleCommon
	case strings.HasPrefix(pkg, "linux-headers-"):
		return roleHeaders
	case strings.HasPrefix(pkg, "linux-kbuild-"):
		return roleKbuild
	case pkg == "linux-libc-dev":
		return roleLibc
	}
	return ""
}

var (
	seriesRE   = regexp.MustCompile(`^(` + PrebuiltPrefix + `)?[0-9]+\.[0-9]+$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	packageRE  = regexp.MustCompile(`^linux-source-[0-9]+\.[0-9]+$`)
	debPkgRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	debVerRE   = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)
	debSuiteRE = regexp.MustCompile(`^[a-z]+(-[a-z]+)?$`)
)

// ParsePins parses a pin file: "series package version suite sha256" lines,
// '#' comments and blank lines ignored. A source series has one line, its
// linux-source package; a debian-* series one line per package of Debian's
// prebuilt kernel. Every error names the line.
func ParsePins(data []byte) (map[string]Pin, error) {
	pins := make(map[string]Pin)
	lineOf := make(map[string]int)
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
		series := f[0]
		d := Deb{Package: f[1], Version: f[2], Suite: f[3], SHA256: strings.ToLower(f[4])}
		major := strings.TrimPrefix(series, PrebuiltPrefix)
		switch {
		case !seriesRE.MatchString(series):
			return nil, fmt.Errorf("pins line %d: series %q is not MAJOR.MINOR or %sMAJOR.MINOR", n, series, PrebuiltPrefix)
		case !debPkgRE.MatchString(d.Package):
			return nil, fmt.Errorf("pins line %d: %q is not a Debian package name", n, d.Package)
		case !debVerRE.MatchString(d.Version):
			return nil, fmt.Errorf("pins line %d: %q is not a Debian version", n, d.Version)
		case !debSuiteRE.MatchString(d.Suite):
			return nil, fmt.Errorf("pins line %d: %q is not a Debian suite", n, d.Suite)
		case !strings.HasPrefix(d.Version, major+"."):
			return nil, fmt.Errorf("pins line %d: version %q is not in series %s", n, d.Version, series)
		case !sha256RE.MatchString(d.SHA256):
			return nil, fmt.Errorf("pins line %d: sha256 %q is not 64 hex digits", n, f[4])
		}
		p := pins[series]
		p.Series = series
		if !IsPrebuilt(series) {
			switch {
			case !packageRE.MatchString(d.Package):
				return nil, fmt.Errorf("pins line %d: package %q is not linux-source-MAJOR.MINOR (a prebuilt kernel's series is named %s%s)", n, d.Package, PrebuiltPrefix, series)
			case d.Package != "linux-source-"+series:
				return nil, fmt.Errorf("pins line %d: package %q does not match series %s", n, d.Package, series)
			case len(p.Debs) > 0:
				return nil, fmt.Errorf("pins line %d: series %s pinned twice", n, series)
			}
		} else {
			r := role(d.Package)
			switch {
			case r == "":
				return nil, fmt.Errorf("pins line %d: %s is not a package of a prebuilt kernel (linux-image-, linux-binary-, linux-modules-, linux-base-, linux-headers-, linux-kbuild-, linux-libc-dev)", n, d.Package)
			case len(p.Debs) > 0 && (d.Version != p.Version() || d.Suite != p.Suite()):
				return nil, fmt.Errorf("pins line %d: %s %s from %s, but series %s pins %s from %s: one kernel is one version", n, d.Package, d.Version, d.Suite, series, p.Version(), p.Suite())
			}
			for _, o := range p.Debs {
				if role(o.Package) == r {
					return nil, fmt.Errorf("pins line %d: series %s pins two %s packages (%s, %s)", n, series, r, o.Package, d.Package)
				}
			}
		}
		p.Debs = append(p.Debs, d)
		pins[series] = p
		lineOf[series] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pins) == 0 {
		return nil, fmt.Errorf("pins: no series pinned")
	}
	for s, p := range pins {
		if err := p.complete(); err != nil {
			return nil, fmt.Errorf("pins line %d: %w", lineOf[s], err)
		}
	}
	return pins, nil
}

// complete checks that a prebuilt series pins everything a run needs.
func (p Pin) complete() error {
	if !p.Prebuilt() {
		return nil
	}
	has := map[string]bool{}
	for _, d := range p.Debs {
		has[role(d.Package)] = true
	}
	var missing []string
	if !has[roleImage] && !(has[roleBinary] && has[roleModules] && has[roleBase]) {
		missing = append(missing, "linux-image-* (or linux-binary-*, linux-modules-* and linux-base-*)")
	}
	if has[roleImage] && (has[roleBinary] || has[roleModules] || has[roleBase]) {
		return fmt.Errorf("series %s pins linux-image- and linux-binary-/linux-modules-/linux-base-: pick one", p.Series)
	}
	for _, r := range []string{roleHeaders, roleCommon, roleKbuild, roleLibc} {
		if !has[r] {
			missing = append(missing, "linux-"+map[string]string{roleHeaders: "headers-RELEASE", roleCommon: "headers-*-common", roleKbuild: "kbuild-*", roleLibc: "libc-dev"}[r])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("series %s lacks %s", p.Series, strings.Join(missing, ", "))
	}
	rel := p.Release()
	for _, d := range p.Debs {
		if r := role(d.Package); (r == roleImage || r == roleBinary || r == roleModules || r == roleBase) && !strings.Contains(d.Package, rel) {
			return fmt.Errorf("series %s: %s is not for the release of its headers, %s", p.Series, d.Package, rel)
		}
	}
	return nil
}

// Pins returns the pins embedded from kernel-config/pins.txt.
func Pins() (map[string]Pin, error) {
	data, err := fs.ReadFile(netl.KernelConfig, "kernel-config/pins.txt")
	if err != nil {
		return nil, err
	}
	return ParsePins(data)
}

// Series returns the pinned series: the ones netl builds, oldest first,
// then Debian's prebuilt ones, oldest first.
func Series(pins map[string]Pin) []string {
	s := make([]string, 0, len(pins))
	for k := range pins {
		s = append(s, k)
	}
	sort.Slice(s, func(i, j int) bool { return seriesLess(s[i], s[j]) })
	return s
}

// Newest is the newest MAJOR.MINOR pinned, prebuilt or not ("7.2" for
// debian-7.2): the guest's kernel-version gates may not name a newer one.
func Newest(pins map[string]Pin) string {
	newest := ""
	for s := range pins {
		v := strings.TrimPrefix(s, PrebuiltPrefix)
		if newest == "" || seriesLess(newest, v) {
			newest = v
		}
	}
	return newest
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

func seriesLess(a, b string) bool {
	if IsPrebuilt(a) != IsPrebuilt(b) {
		return !IsPrebuilt(a)
	}
	var a1, a2, b1, b2 int
	fmt.Sscanf(strings.TrimPrefix(a, PrebuiltPrefix), "%d.%d", &a1, &a2)
	fmt.Sscanf(strings.TrimPrefix(b, PrebuiltPrefix), "%d.%d", &b1, &b2)
	if a1 != b1 {
		return a1 < b1
	}
	return a2 < b2
}
