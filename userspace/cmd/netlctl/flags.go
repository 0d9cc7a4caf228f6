package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netl-dev/netl/userspace/netlink"
)

// uint32Value is a flag holding a uint32, in decimal or with a 0x prefix.
type uint32Value uint32

func (v *uint32Value) String() string { return strconv.FormatUint(uint64(*v), 10) }

func (v *uint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return errors.New("not a 32-bit unsigned number")
	}
	*v = uint32Value(n)
	return nil
}

// socketTypeValue is the -type flag of seed: raw or dgram.
type socketTypeValue int

func (v *socketTypeValue) String() string {
	if *v == syscall.SOCK_DGRAM {
		return "dgram"
	}
	return "raw"
}

func (v *socketTypeValue) Set(s string) error {
	switch s {
	case "raw":
		*v = syscall.SOCK_RAW
	case "dgram":
		*v = syscall.SOCK_DGRAM
	default:
		return errors.New(`want "raw" or "dgram"`)
	}
	return nil
}

// typeNames are the message type names -type accepts.
var typeNames = map[string]netlink.HeaderType{
	"noop":      netlink.Noop,
	"error":     netlink.Error,
	"done":      netlink.Done,
	"overrun":   netlink.Overrun,
	"seed":      netlink.TypeSeed,
	"echo":      netlink.TypeEcho,
	"broadcast": netlink.TypeBroadcast,
	"notify":    netlink.TypeNotify,
	"dump":      netlink.TypeDump,
	"stats":     netlink.TypeStats,
}

// headerTypeValue is the -type flag of send: a name or a number.
type headerTypeValue struct {
	t   netlink.HeaderType
	set bool
}

func (v *headerTypeValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return v.t.String()
}

func (v *headerTypeValue) Set(s string) error {
	if t, ok := typeNames[strings.ToLower(s)]; ok {
		v.t, v.set = t, true
		return nil
	}
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return errors.New("want a number or one of noop, error, done, overrun, seed, echo, broadcast, notify, dump, stats")
	}
	v.t, v.set = netlink.HeaderType(n), true
	return nil
}

// flagNames are the flag names -flags accepts.
var flagNames = map[string]netlink.HeaderFlags{
	"request":          netlink.Request,
	"multi":            netlink.Multi,
	"ack":              netlink.Acknowledge,
	"acknowledge":      netlink.Acknowledge,
	"echo":             netlink.Echo,
	"dump-interrupted": netlink.DumpInterrupted,
	"dump-filtered":    netlink.DumpFiltered,
	"root":             netlink.Root,
	"match":            netlink.Match,
	"atomic":           netlink.Atomic,
	"dump":             netlink.Dump,
	"replace":          netlink.Replace,
	"excl":             netlink.Excl,
	"create":           netlink.Create,
	"append":           netlink.Append,
}

// headerFlagsValue is the -flags flag of send: names or numbers joined by
// "|" or ",".
type headerFlagsValue netlink.HeaderFlags

func (v *headerFlagsValue) String() string { return netlink.HeaderFlags(*v).String() }

func (v *headerFlagsValue) Set(s string) error {
	var f netlink.HeaderFlags
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }) {
		part = strings.TrimSpace(part)
		if n, ok := flagNames[strings.ToLower(part)]; ok {
			f |= n
			continue
		}
		n, err := strconv.ParseUint(part, 0, 16)
		if err != nil {
			return fmt.Errorf("unknown flag %q: want a number or request, multi, ack, echo, dump-interrupted, dump-filtered, root, match, atomic, dump, replace, excl, create, append", part)
		}
		f |= netlink.HeaderFlags(n)
	}
	*v = headerFlagsValue(f)
	return nil
}

// groupsValue is the repeatable -group flag of listen.
type groupsValue []uint32

func (v *groupsValue) String() string { return fmt.Sprint([]uint32(*v)) }

func (v *groupsValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil || n == 0 {
		return errors.New("want a group number, 1 or more")
	}
	*v = append(*v, uint32(n))
	return nil
}

// payload returns the bytes of the optional argument the synopsis calls
// name (PAYLOAD, DATA), decoded from hex if isHex.
func payload(name string, args []string, isHex bool) ([]byte, error) {
	switch len(args) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, usagef("want at most one %s argument, got %d (quote it)", name, len(args))
	}
	if !isHex {
		return []byte(args[0]), nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(args[0], " ", ""))
	if err != nil {
		return nil, usagef("%s is not hex: %v", name, err)
	}
	return b, nil
}

// checkCount checks a -count flag.
func checkCount(n int, zeroOK bool) error {
	if n < 0 || (n == 0 && !zeroOK) || n > math.MaxInt32 {
		return usagef("-count %d is out of range", n)
	}
	return nil
}

// checkTimeout checks a -timeout flag.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return usagef("-timeout %v is negative", d)
	}
	return nil
}
