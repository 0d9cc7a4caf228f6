// Package cache holds what every cached artefact of netl shares: a content
// key built the same way for kernels, modules and images, and files that
// appear whole or not at all.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"path/filepath"
)

// Key hashes what an artefact is built from. Named parts are written as
// "NAME LEN\n" then the bytes, so that moving bytes from one part to the
// next changes the key.
type Key struct{ h hash.Hash }

// NewKey starts a key.
func NewKey() *Key { return &Key{h: sha256.New()} }

// Printf adds a formatted line (recipe names, versions) to the key.
func (k *Key) Printf(format string, args ...any) { fmt.Fprintf(k.h, format, args...) }

// Part adds one named input.
func (k *Key) Part(name string, data []byte) {
	fmt.Fprintf(k.h, "%s %d\n", name, len(data))
	k.h.Write(data)
}

// String is the first n hex digits of the key.
func (k *Key) String(n int) string { return hex.EncodeToString(k.h.Sum(nil))[:n] }

// WriteFile writes data to path through a temporary file in the same
// directory and a rename: a reader (another run, a crash half-way) sees the
// old file or the new one, never a part.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
