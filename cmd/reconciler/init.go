package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/switchyard-dev/switchyard/pkg/scaffold"
	"github.com/switchyard-dev/switchyard/policies"
)

// cmdInit writes a starting repository into DIR (default: the current
// directory), refusing to overwrite any file unless --force is given.
func cmdInit(_ context.Context, e *env, args []string) int {
	fl := flag.NewFlagSet("init", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	force := fl.Bool("force", false, "overwrite files that exist")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: reconciler init [DIR] [--force]")
		fl.PrintDefaults()
	}
	// Flags may come after DIR too (reconciler init myrepo --force).
	var dirs []string
	for {
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fl.NArg() == 0 {
			break
		}
		dirs = append(dirs, fl.Arg(0))
		args = fl.Args()[1:]
	}
	if len(dirs) > 1 {
		fmt.Fprintf(e.stderr, "reconciler init: unexpected argument %q (one DIR at most)\n", dirs[1])
		return exitUsage
	}
	dir := "."
	if len(dirs) == 1 {
		dir = dirs[0]
	}
	files, err := scaffold.Files(policies.Files)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler init: %v\n", err)
		return exitUsage
	}
	err = scaffold.Write(dir, files, *force)
	var exist *scaffold.ExistsError
	if errors.As(err, &exist) {
		fmt.Fprintf(e.stderr, "reconciler init: %s already holds files that init would overwrite; nothing was written:\n", dir)
		for _, p := range exist.Paths {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
		fmt.Fprintln(e.stderr, "Run again with --force to overwrite them.")
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler init: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "Wrote a starting Switchyard repository in %s:\n", dir)
	for _, f := range files {
		fmt.Fprintf(e.stdout, "  %s\n", f.Path)
	}
	fmt.Fprintf(e.stdout, `
Next:
  reconciler validate --repo %s          # check the specs against the policies
  try it on this machine: Switchyard's docs/getting-started.md
  edit rollouts/: your routers, models and model servers (docs/spec.md)
  push it to a Git repository and run the reconciler on it (docs/operating.md)
`, filepath.ToSlash(dir))
	return exitOK
}
