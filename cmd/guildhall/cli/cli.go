// Package cli is the command-line client of SPEC 11 (guildhall login, org
// create, switch, whoami, invite): it talks to the JSON API over HTTP with a
// token stored in a private config file.
//
// Every verb is a plain function over an Env (standard streams, an
// environment lookup and an http.Client), so tests drive it against a real
// server without touching the process's own streams or environment.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the API or the local setup refused (error printed on stderr)
	ExitUsage = 2 // the command line is wrong (usage printed on stderr)
)

// Verbs lists the CLI verbs, one block each; cmd/guildhall's usage shows them too.
const Verbs = `  guildhall login [--url URL] [--email EMAIL] [--password-stdin]
                                     sign in and store an API token
  guildhall org create SLUG "NAME"   create a team organization
  guildhall org switch SLUG|none     make an org active (none: your personal workspace)
  guildhall org whoami               show who is signed in and the active org
  guildhall org invite EMAIL [--role ROLE]
                                     invite someone to the active org (role: owner,
                                     admin, member or billing; default member)
  guildhall org usage [SLUG] [--json]
                                     API requests of the last 14 days as a chart,
                                     and the plan's limits (default: the active org)
  guildhall org wallet [--org SLUG]  show the wallet's balance and recent entries
  guildhall buy PACKAGE [--org SLUG] [--json]
                                     buy (or install, when free) a package with the
                                     active org's wallet
`

// Usage is the CLI's help text.
const Usage = "Usage:\n" + Verbs + `
login's server is --url, else GUILDHALL_URL, else the last one logged in to,
else http://127.0.0.1:8080. The token, its server and the active org are kept
in GUILDHALL_CONFIG, else <user config dir>/guildhall/cli.json (mode 0600).
`

// DefaultURL is the server used when neither --url nor GUILDHALL_URL says.
const DefaultURL = "http://127.0.0.1:8080"

// TokenName is the name of the API tokens that login creates.
const TokenName = "guildhall CLI"

// Env is everything a verb touches outside itself.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up an environment variable ("" when unset).
	Getenv func(string) string
	HTTP   *http.Client
	// ReadPassword reads a password without echoing it (a terminal). Nil
	// means Stdin is not a terminal: the password is read from it as a line.
	ReadPassword func() (string, error)
}

// Main runs the CLI with the process's streams and environment and returns
// the exit code. args starts with the verb ("login", "org").
func Main(ctx context.Context, args []string) int {
	env := Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		HTTP:   &http.Client{Timeout: 30 * time.Second},
	}
	restore := func() {}
	if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		env.ReadPassword = func() (string, error) {
			b, err := term.ReadPassword(fd)
			return string(b), err
		}
		if st, err := term.GetState(fd); err == nil {
			restore = func() { _ = term.Restore(fd, st) }
		}
	}
	// A prompt blocks on the terminal, where no context reaches: on an
	// interrupt, give the terminal its echo back and stop.
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, env) }()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
		restore()
		fmt.Fprintln(os.Stderr, "\ninterrupted")
		return 130
	}
}

// Run dispatches one command line and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.HTTP == nil {
		env.HTTP = http.DefaultClient
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	r := &runner{ctx: ctx, env: env}
	if len(args) == 0 {
		return r.usage(nil)
	}
	var err error
	switch args[0] {
	case "login":
		err = r.login(args[1:])
	case "buy":
		err = r.buy(args[1:])
	case "org":
		if len(args) < 2 {
			return r.usage(nil)
		}
		switch args[1] {
		case "create":
			err = r.orgCreate(args[2:])
		case "switch":
			err = r.orgSwitch(args[2:])
		case "whoami":
			err = r.orgWhoami(args[2:])
		case "invite":
			err = r.orgInvite(args[2:])
		case "usage":
			err = r.orgUsage(args[2:])
		case "wallet":
			err = r.orgWallet(args[2:])
		case "help", "-h", "--help":
			fmt.Fprint(env.Stdout, Usage)
			return ExitOK
		default:
			return r.usage(fmt.Errorf("unknown command %q", "org "+args[1]))
		}
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, Usage)
		return ExitOK
	default:
		return r.usage(fmt.Errorf("unknown command %q", args[0]))
	}
	return r.finish(err)
}

// runner carries the context and Env through one command.
type runner struct {
	ctx context.Context
	env Env
}

func (r *runner) out(format string, a ...any) { fmt.Fprintf(r.env.Stdout, format, a...) }

func (r *runner) usage(err error) int {
	if err != nil {
		fmt.Fprintf(r.env.Stderr, "guildhall: %v\n\n", err)
	}
	fmt.Fprint(r.env.Stderr, Usage)
	return ExitUsage
}

// usageError is a wrong command line: exit 2 with the message and usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// errNotLoggedIn is returned by every verb but login when no token is stored.
var errNotLoggedIn = errors.New(`you are not logged in: run "guildhall login" first`)

// finish prints err the way its kind asks and returns the exit code.
func (r *runner) finish(err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK // the flag set printed its help already
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return r.usage(ue)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(r.env.Stderr, "error: %s (%s)\n", ae.Message, ae.Code)
		for _, f := range ae.fieldLines() {
			fmt.Fprintf(r.env.Stderr, "  %s\n", f)
		}
		if ae.Code == "unauthorized" && ae.relogin {
			fmt.Fprintln(r.env.Stderr, `Your stored token no longer works: run "guildhall login" again.`)
		}
		return ExitError
	}
	fmt.Fprintf(r.env.Stderr, "error: %v\n", err)
	return ExitError
}

// flags is a flag set that prints nothing itself: parse reports its errors.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags wherever they appear among the arguments (so
// "invite bob@example.com --role admin" works) and returns the positional
// ones. Everything after "--" is positional. A bad flag is a usage error;
// -h prints the synopsis and the flags on Stdout and returns flag.ErrHelp.
func (r *runner) parse(fs *flag.FlagSet, synopsis string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				r.out("Usage: %s\n", synopsis)
				fs.SetOutput(r.env.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
