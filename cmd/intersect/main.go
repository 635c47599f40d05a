// Command intersect is the one binary of the intersect pipeline. Each
// subcommand wires packages together and nothing more: the work lives in
// edge/, tracker/, events/, store/, signals/ and api/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes (DESIGN.md): 0 ok, 1 runtime failure, 2 bad usage or bad input.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// usageError marks an error caused by bad usage or bad input (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput wraps err as a usage/input error.
func badInput(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// env is what every subcommand gets: its arguments and where to write.
type env struct {
	args   []string
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env) error
}

// commands is the table of subcommands; each file in this directory adds one.
func commands() []command {
	cs := []command{
		controllerCommand(),
		weatherCommand(),
		adviseCommand(),
		calibrateCommand(),
		edgeCommand(),
		demoCommand(),
		ingestCommand(),
		initCommand(),
		loadgenCommand(),
		serveCommand(),
		trackCommand(),
		analyzeCommand(),
		twinCommand(),
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "intersect finds pedestrian–vehicle near misses in intersection video and advises signal timing.\n\n")
	fmt.Fprintf(w, "Usage: intersect <command> [flags]   (intersect <command> --help for its flags)\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "intersect: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, env{args: args[1:], stdout: stdout, stderr: stderr, log: log.With("cmd", cmd.name)})
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "intersect %s: %v\n", cmd.name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "intersect %s: %v\n", cmd.name, err)
		return exitRuntime
	}
}

func logLevel() slog.Level {
	switch strings.ToLower(os.Getenv("INTERSECT_LOG")) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// newFlags returns a flag set for a subcommand whose --help prints the
// summary, a longer description and the flags, and whose errors are usage
// errors (exit 2).
func newFlags(e env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: intersect %s\n\n%s\n\nFlags:\n", synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into usage errors and reporting
// stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q (flags go before nothing else; see --help)", fs.Arg(0))
	}
	return nil
}
