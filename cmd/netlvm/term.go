package main

import (
	"errors"
	"os"

	"golang.org/x/term"
)

// rawTerminal puts the terminal in raw mode so that the guest shell gets
// every key (Ctrl-C included) and returns the function that restores it.
func rawTerminal() (func(), error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, errors.New("stdin is not a terminal")
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { _ = term.Restore(fd, old) }, nil
}
