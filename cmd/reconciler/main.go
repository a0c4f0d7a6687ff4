// Command reconciler is Switchyard's CLI: validate, plan and format rollout
// specs; run the GitOps reconciler; serve the builtin router; show status;
// and a self-contained demo. It only parses flags and wires packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes of SPEC.md §3.
const (
	exitOK      = 0
	exitInvalid = 1 // invalid spec, policy denial or failed validation
	exitUsage   = 2 // usage or environment error
)

// env is what a command may touch of the outside world.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	run     func(ctx context.Context, e *env, args []string) int
	summary string
}

func commands() map[string]command {
	return map[string]command{
		"validate":      {cmdValidate, "validate specs and check them against policies"},
		"plan":          {cmdPlan, "describe what merging a change would do"},
		"fmt":           {cmdFmt, "format spec files"},
		"run":           {cmdRun, "run the GitOps reconciler"},
		"router":        {cmdRouter, "serve a standalone builtin router with its admin API"},
		"status":        {cmdStatus, "show every model's rollout"},
		"demo":          {cmdDemo, "run the self-contained demo"},
		"init":          {cmdInit, "write a starting repository: an example model, policies, a dataset and a workflow"},
		"example-model": {cmdExampleModel, "serve a stand-in model server for trying the example of init on one machine"},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "reconciler: unknown command %q\n\n", args[0])
		usage(e.stderr, cmds)
		return exitUsage
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: reconciler COMMAND [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'reconciler COMMAND -h' for a command's flags.")
}

// parseFlags parses args as fl's flags, taking no other argument. When the
// command must not go on (-h, a bad flag, an argument) it returns false
// and the exit code to leave with.
func parseFlags(fl *flag.FlagSet, e *env, args []string) (int, bool) {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(e.stderr, "reconciler %s: unexpected argument %q\n", fl.Name(), fl.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}
