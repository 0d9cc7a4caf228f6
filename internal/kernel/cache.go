package kernel

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CacheDir is where netl keeps downloaded sources, built kernels and
// modules: $NETL_CACHE, else $XDG_CACHE_HOME/netl, else ~/.cache/netl.
func CacheDir() (string, error) {
	if d := os.Getenv("NETL_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "netl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set NETL_CACHE (%w)", err)
	}
	return filepath.Join(home, ".cache", "netl"), nil
}

// Lock is an exclusive advisory lock on a file in the cache. Concurrent runs
// that want the same kernel wait for each other instead of building it twice
// into the same place.
type Lock struct{ f *os.File }

// LockFile takes an exclusive lock on path, creating it if needed, and calls
// waiting (if not nil) when another process holds it.
func LockFile(path string, waiting func()) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if waiting != nil {
			waiting()
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing drops the flock
	l.f = nil
	return err
}
