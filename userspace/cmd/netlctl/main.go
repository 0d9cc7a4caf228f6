// Command netlctl talks to netl.ko, the kernel module of this project, over
// netlink protocol 25 (the seed's NETLINK_TEST).
//
//	netlctl seed [-port 100] [-type raw|dgram] [-count N] [-timeout 10s] [MESSAGE]
//	netlctl send -type T [-flags F] [-ack] [-port P] [-timeout D] [PAYLOAD]
//	netlctl listen [-port P] [-group G ...] [-count N] [-timeout D]
//	netlctl echo [-count N] [-interval MS|param] [-hex] [-timeout D] [DATA]
//	netlctl broadcast -group G [-hex] [-timeout D] [DATA]
//	netlctl notify [-port P] [-delay MS] [-wait] [-hex] [-timeout D] [DATA]
//	netlctl dump -parts N [-timeout D]
//	netlctl stats [-timeout D]
//
// "netlctl seed" does what the seed's user program does: it binds port 100,
// sends "Hello you!" in a type-0 message of NLMSG_SPACE(1024) bytes, and
// prints "Received message: <payload>" for each reply. echo, broadcast,
// notify, dump and stats send the module's typed requests (netl_proto.h),
// one each; send sends any message, listen prints what arrives.
//
// Every command takes -json: it then prints a JSON object per line instead
// of text (a message's type and flags by name and number, its payload in
// hex), and an error adds a last object with "error", "exit", "timeout" and,
// when the kernel answered with the error, "errno", "errno_text",
// "ext_ack" and "ext_ack_offset" ("dump_interrupted" for a dump the kernel
// marked so). A usage error (exit status 2) prints no object: its text is
// on standard error, as always.
//
// Errors go to standard error, prefixed "netlctl: "; help that was asked
// for (-h) goes to standard output. The exit status is 0 for success, 2 for
// a usage error, 3 when an answer did not come within -timeout, 4 when the
// kernel answered with an error (an errno in NLMSG_ERROR), and 1 for any
// other error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

const usage = `usage: netlctl <command> [flags] [arguments]

netlctl talks to netl.ko over netlink protocol 25 (NETLINK_TEST).

commands:
  seed       do what the seed's user program does: send MESSAGE ("Hello you!")
             in a type-0 request and print "Received message: ..." per reply
  send       send one message and print its replies
  listen     print the messages that reach a port or multicast groups
  echo       have the module send DATA back -count times, -interval ms apart
  broadcast  have the module send DATA to multicast group -group (CAP_NET_ADMIN)
  notify     have the module send DATA to a port after -delay ms
  dump       ask for a multipart dump of -parts parts, ending in NLMSG_DONE
  stats      print the module's counters, "name value" per line

Run "netlctl <command> -h" for the flags of a command.
`

// command is a subcommand: its flags are defined on fs, and run runs it
// with the arguments left after the flags.
type command struct {
	fs  *flag.FlagSet
	run func(args []string) error
}

var commands = map[string]func(o *output) *command{
	"seed":      seedCommand,
	"send":      sendCommand,
	"listen":    listenCommand,
	"echo":      echoCommand,
	"broadcast": broadcastCommand,
	"notify":    notifyCommand,
	"dump":      dumpCommand,
	"stats":     statsCommand,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run runs netlctl with args (without the program name) and returns the
// exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	newCommand, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "netlctl: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	o := &output{stdout: stdout, stderr: stderr}
	cmd := newCommand(o)
	cmd.fs.BoolVar(&o.json, "json", false, "print JSON, an object per line, for scripts; an error ends with an object with \"error\"")
	// The flag package's own messages lack the "netlctl: " prefix: print
	// its errors here instead.
	cmd.fs.SetOutput(io.Discard)
	err := cmd.fs.Parse(args[1:])
	cmd.fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		cmd.fs.SetOutput(stdout) // asked for: not an error
		cmd.fs.Usage()
		return 0
	}
	if err == nil {
		err = cmd.run(cmd.fs.Args())
	} else {
		err = &usageError{msg: err.Error()}
	}
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "netlctl: %s: %v\n\n", cmd.fs.Name(), err)
		cmd.fs.Usage()
		return 2
	default:
		fmt.Fprintf(stderr, "netlctl: %v\n", err)
		code := exitCode(err)
		o.failure(err, code)
		return code
	}
}

// Exit statuses besides 0, 1 and 2 (usage), for scripts.
const (
	exitTimeout = 3 // no answer within -timeout
	exitKernel  = 4 // the kernel answered with an error
)

// exitCode tells a timeout and the kernel's own error from other errors.
func exitCode(err error) int {
	switch _, kernel := kernelErrno(err); {
	case isTimeout(err):
		return exitTimeout
	case kernel:
		return exitKernel
	}
	return 1
}

// kernelErrno returns the errno the kernel answered with (in NLMSG_ERROR or
// NLMSG_DONE), if err is one: a bare errno, where a failed system call's
// (a timeout's EAGAIN too) is in an *os.SyscallError.
func kernelErrno(err error) (syscall.Errno, bool) {
	var errno syscall.Errno
	var sys *os.SyscallError
	if errors.As(err, &errno) && !errors.As(err, &sys) {
		return errno, true
	}
	return 0, false
}

// newFlagSet returns the flag set of command name, whose usage text shows
// synopsis and what it does.
func newFlagSet(name, synopsis, what string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: netlctl %s %s\n\n%s\n\nflags:\n", name, synopsis, strings.TrimSpace(what))
		fs.PrintDefaults()
	}
	return fs
}
