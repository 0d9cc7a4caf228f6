package kernel

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/netl-dev/netl/internal/cache"
	"github.com/netl-dev/netl/internal/contract"
)

// prebuiltRecipe changes whenever the way a prebuilt kernel is unpacked or
// its build root made changes.
const prebuiltRecipe = "netl-prebuilt-recipe-3"

// bootModules are the modules the guest needs before it can mount the
// host's share; their dependencies come along. virtio_pci is built into
// Debian's kernels from 6.12 on, a module before.
var bootModules = []string{"virtio_pci", "9pnet_virtio", "9p"}

// buildRootPackages make a Debian release's module build root: its
// compiler (added per kernel: gcc-N as its headers name it), make, and what
// Kbuild's scripts call (perl for kernel-doc under W=1, pahole for modules'
// BTF, libelf for objtool).
var buildRootPackages = []string{"make", "libelf-dev", "dwarves", "bc", "mawk", "perl"}

func planPrebuilt(cacheDir string, p Pin, opts Options) (*Kernel, error) {
	if opts.Debug {
		return nil, fmt.Errorf("series %s is Debian's prebuilt kernel, which has no debug flavour (KASAN, lockdep, kmemleak are netl's own config); use a series netl builds", p.Series)
	}
	if len(opts.Extra) > 0 {
		return nil, fmt.Errorf("series %s is Debian's prebuilt kernel: config fragments do not apply to it", p.Series)
	}
	h := cache.NewKey()
	h.Printf("%s %s\n", prebuiltRecipe, strings.Join(buildRootPackages, " "))
	image := ""
	for _, d := range p.Debs {
		h.Printf("%s %s %s %s\n", d.Package, d.Version, d.Suite, d.SHA256)
		if r := role(d.Package); r == roleImage || r == roleBinary {
			image = d.Package
		}
	}
	key := h.String(12)
	name := fmt.Sprintf("%s-%s-%s", p.Series, p.Version(), key)
	return &Kernel{Series: p.Series, Version: p.Version(), Source: image, Key: key, Release: p.Release(),
		Dir: filepath.Join(cacheDir, "kernels", name), Pin: &p}, nil
}

// BootModules is the initramfs layer (a newc cpio) with the modules a
// prebuilt kernel's guest loads before it mounts the share; "" for netl's
// own kernels.
func (k *Kernel) BootModules() string {
	if !k.Prebuilt() {
		return ""
	}
	return filepath.Join(k.Dir, "boot-modules.cpio")
}

// buildRoot is the directory a prebuilt kernel's modules are built in: a
// Debian root of the kernel's release with its compiler and headers.
func (k *Kernel) buildRoot() string { return filepath.Join(k.Dir, "root") }

// headersDir is the kernel's headers inside the build root.
func (k *Kernel) headersDir() string { return "/usr/src/linux-headers-" + k.Release }

// unpackPrebuilt fetches and verifies every pinned package, and makes, in
// a temporary directory renamed into place at the end: vmlinuz, the boot
// modules' cpio, and the build root. The image and the build root are made
// side by side: one is xz, the other mostly the network.
func unpackPrebuilt(cacheDir string, k *Kernel, progress io.Writer) error {
	for _, prog := range []string{"dpkg-deb", "mmdebstrap", "xz"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("a prebuilt kernel needs %s: sudo apt-get install -y %s", prog, strings.Join(PrebuiltPackages, " "))
		}
	}
	debs := make(map[string]string) // role -> file
	for _, d := range k.Pin.Debs {
		f, err := fetchDeb(cacheDir, d, progress)
		if err != nil {
			return err
		}
		debs[role(d.Package)] = f
	}
	tmp, err := os.MkdirTemp(ensureDir(filepath.Dir(k.Dir)), ".build-"+filepath.Base(k.Dir)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	logPath := filepath.Join(ensureDir(filepath.Join(cacheDir, "logs")), filepath.Base(k.Dir)+".build.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	log := &syncWriter{w: logf}

	var wg sync.WaitGroup
	var imageErr, rootErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		imageErr = unpackImage(k, debs, tmp, log, progress)
	}()
	go func() {
		defer wg.Done()
		rootErr = makeBuildRoot(k, debs, tmp, log, progress)
	}()
	wg.Wait()
	for _, err := range []error{imageErr, rootErr} {
		if err != nil {
			data, _ := os.ReadFile(logPath)
			return fmt.Errorf("%w\nlast lines of %s:\n%s", err, logPath, lastLines(string(data), 20))
		}
	}
	data, _ := json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, marker), data, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(k.Dir)
	return os.Rename(tmp, k.Dir)
}

// unpackImage takes vmlinuz, the config and the boot modules out of the
// image (or binary and modules) packages.
func unpackImage(k *Kernel, debs map[string]string, tmp string, log, progress io.Writer) error {
	pkg := filepath.Join(tmp, "pkg")
	for _, r := range []string{roleImage, roleBinary, roleModules, roleBase} {
		if f, ok := debs[r]; ok {
			fmt.Fprintf(progress, "netl: unpacking %s\n", filepath.Base(f))
			if err := run(log, "", "dpkg-deb", "-x", f, pkg); err != nil {
				return fmt.Errorf("unpacking %s: %w", filepath.Base(f), err)
			}
		}
	}
	defer os.RemoveAll(pkg)
	rel := k.Release
	vmlinuz := firstExisting(pkg, "boot/vmlinuz-"+rel, "usr/lib/modules/"+rel+"/vmlinuz", "usr/lib/modules/"+rel+"/vmlinuz.unsigned", "lib/modules/"+rel+"/vmlinuz")
	modDir := firstExisting(pkg, "usr/lib/modules/"+rel, "lib/modules/"+rel)
	if vmlinuz == "" || modDir == "" {
		return fmt.Errorf("the packages of %s hold no vmlinuz or modules for release %s", k.Series, rel)
	}
	if err := os.Rename(vmlinuz, filepath.Join(tmp, "vmlinuz")); err != nil {
		return err
	}
	if cfg := firstExisting(pkg, "boot/config-"+rel, "usr/lib/modules/"+rel+"/config"); cfg != "" {
		if err := os.Rename(cfg, filepath.Join(tmp, "config")); err != nil {
			return err
		}
	}
	mods, err := bootModuleOrder(modDir, bootModules)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", k.Series, err)
	}
	var recs []cpio.Record
	var names []string
	for i, m := range mods {
		name := fmt.Sprintf("%s/%02d-%s.ko", contract.BootModulesDir, i, m.name)
		recs = append(recs, cpio.StaticFile(name, string(m.image), 0o644))
		names = append(names, m.name)
	}
	fmt.Fprintf(progress, "netl: kernel %s: the guest loads %s before it mounts the share\n", k.Series, strings.Join(names, ", "))
	f, err := os.Create(filepath.Join(tmp, "boot-modules.cpio"))
	if err != nil {
		return err
	}
	w := cpio.Newc.Writer(f)
	if err := cpio.WriteRecordsAndDirs(w, recs); err != nil {
		f.Close()
		return err
	}
	if err := cpio.WriteTrailer(w); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// module is a boot module: its name and its uncompressed image.
type module struct {
	name  string
	image []byte
}

// bootModuleOrder resolves the wanted modules and their dependencies (the
// depends= of each module's .modinfo; the package has no modules.dep,
// which depmod writes at install) into a load order, dependencies first.
// A wanted module built into the kernel (modules.builtin) is skipped.
func bootModuleOrder(modDir string, want []string) ([]module, error) {
	builtin := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(data)) {
			builtin[modName(l)] = true
		}
	}
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[modName(p)] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var order []module
	seen := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		if seen[name] || builtin[name] {
			return nil
		}
		p, ok := files[name]
		if !ok {
			return fmt.Errorf("module %s (needed by %s) is neither in the package nor built in", name, strings.Join(chain, " <- "))
		}
		seen[name] = true
		data, err := decompressModule(p)
		if err != nil {
			return err
		}
		deps, err := modDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		order = append(order, module{name: name, image: data})
		return nil
	}
	for _, w := range want {
		if err := visit(w, []string{"netl"}); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// modName is the module name of a path: 9pnet_virtio.ko.xz is
// 9pnet_virtio; the kernel treats '-' and '_' alike.
func modName(p string) string {
	b := filepath.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// decompressModule reads a module, uncompressing .ko.xz and .ko.zst: the
// guest loads it with init_module, which takes an ELF image on every
// kernel (finit_module's MODULE_INIT_COMPRESSED_FILE is 6.4+).
func decompressModule(p string) ([]byte, error) {
	var prog string
	switch {
	case strings.HasSuffix(p, ".ko"):
		return os.ReadFile(p)
	case strings.HasSuffix(p, ".ko.xz"):
		prog = "xz"
	case strings.HasSuffix(p, ".ko.zst"):
		prog = "zstd"
	default:
		return nil, fmt.Errorf("%s: not a module (.ko, .ko.xz, .ko.zst)", p)
	}
	out, err := exec.Command(prog, "-dc", p).Output()
	if err != nil {
		return nil, fmt.Errorf("%s -dc %s: %w", prog, p, err)
	}
	return out, nil
}

// modDepends reads depends= from a module's .modinfo section.
func modDepends(image []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		return nil, err
	}
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	data, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				deps = append(deps, strings.ReplaceAll(d, "-", "_"))
			}
			sort.Strings(deps)
			return deps, nil
		}
	}
	return nil, nil
}

var ccRE = regexp.MustCompile(`(?m)^CC\s*=.*?\b(gcc-[0-9]+)\s*$`)

// compiler is the gcc-N the kernel's headers (unpacked under root) build
// modules with.
func (k *Kernel) compiler(root string) (string, error) {
	vars, err := os.ReadFile(filepath.Join(root, k.headersDir(), ".kernelvariables"))
	if err != nil {
		return "", fmt.Errorf("the headers of %s: %w", k.Release, err)
	}
	m := ccRE.FindSubmatch(vars)
	if m == nil {
		return "", fmt.Errorf("the headers of %s name no gcc-N in .kernelvariables:\n%s", k.Release, vars)
	}
	return string(m[1]), nil
}

// makeBuildRoot makes a Debian root of the kernel's release with the
// compiler its headers name (.kernelvariables: CC = ...gcc-14), and
// unpacks the headers, common headers and kbuild into it: their Makefile
// includes the common one by absolute path, and their prebuilt tools
// (modpost, objtool) link against the release's libc.
func makeBuildRoot(k *Kernel, debs map[string]string, tmp string, log, progress io.Writer) error {
	hdr := filepath.Join(tmp, "headers")
	defer os.RemoveAll(hdr)
	if err := run(log, "", "dpkg-deb", "-x", debs[roleHeaders], hdr); err != nil {
		return fmt.Errorf("unpacking %s: %w", filepath.Base(debs[roleHeaders]), err)
	}
	cc, err := k.compiler(hdr)
	if err != nil {
		return err
	}
	suite, _, _ := strings.Cut(k.Pin.Suite(), "-") // bookworm-security builds with bookworm's compiler
	root := filepath.Join(tmp, "root")
	fmt.Fprintf(progress, "netl: making a Debian %s build root with %s for modules of %s (once per kernel; log: %s)\n",
		suite, cc, k.Release, logName(log))
	start := time.Now()
	// Check-Valid-Until off: a mirror may serve a sid index past its
	// Valid-Until (seen here, 23 days); the index is still signed, and
	// the kernel's own packages are pinned by sha256.
	args := []string{"--variant=essential", "--aptopt=Acquire::Check-Valid-Until \"false\"", "--include=" + strings.Join(append([]string{cc}, buildRootPackages...), ","),
		"--keyring=" + Keyring, suite, root, mirror(suite)}
	if err := run(log, "", "mmdebstrap", args...); err != nil {
		return fmt.Errorf("mmdebstrap %s: %w", suite, err)
	}
	// linux-libc-dev goes last: the pinned one, over the suite's.
	for _, r := range []string{roleHeaders, roleCommon, roleKbuild, roleLibc} {
		// Not dpkg-deb -x: its tar replaces the root's /lib -> usr/lib
		// symlink with the directory of a package that ships ./lib/
		// (bookworm's headers: lib/modules/RELEASE/build), and every
		// program in the root loses its dynamic loader.
		script := `set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"`
		if err := run(log, "", "bash", "-c", script, "unpack", debs[r], root); err != nil {
			return fmt.Errorf("unpacking %s: %w", filepath.Base(debs[r]), err)
		}
	}
	fmt.Fprintf(progress, "netl: build root for %s made in %s\n", k.Release, time.Since(start).Round(time.Second))
	return nil
}

// PrebuiltPackages are the host packages a prebuilt kernel needs.
var PrebuiltPackages = []string{"mmdebstrap", "dpkg", "xz-utils", "zstd"}

func firstExisting(dir string, rels ...string) string {
	for _, r := range rels {
		if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
			return filepath.Join(dir, r)
		}
	}
	return ""
}

func run(log io.Writer, dir, prog string, args ...string) error {
	fmt.Fprintf(log, "+ %s %s\n", prog, strings.Join(args, " "))
	c := exec.Command(prog, args...)
	c.Dir = dir
	c.Stdout, c.Stderr = log, log
	return c.Run()
}

// syncWriter lets two goroutines share one log.
type syncWriter struct {
	mu sync.Mutex
	w  *os.File
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func logName(w io.Writer) string {
	if s, ok := w.(*syncWriter); ok {
		return s.w.Name()
	}
	return "the build log"
}

// ConfigValue is an option's value in the kernel's config ("y", "m", a
// string), "" when unset or unknown.
func (k *Kernel) ConfigValue(option string) string {
	name := ".config"
	if k.Prebuilt() {
		name = "config"
	}
	data, err := os.ReadFile(filepath.Join(k.Dir, name))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, option+"="); ok {
			return v
		}
	}
	return ""
}
