package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/demo"
	"github.com/switchyard-dev/switchyard/policies"
)

// cmdDemo plays the self-contained demo on embedded defaults.
func cmdDemo(ctx context.Context, e *env, args []string) int {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	fset.SetOutput(e.stderr)
	timeout := fset.Duration("timeout", 60*time.Second, "longest wait for each act of the demo")
	verbose := fset.Bool("v", false, "also print the reconciler's log")
	only := fset.String("only", "", "play only the scene `NAME`: "+strings.Join(demo.Scenes(), ", "))
	if err := fset.Parse(args); err != nil {
		return exitUsage
	}
	if *only != "" && !slices.Contains(demo.Scenes(), *only) {
		fmt.Fprintf(e.stderr, "reconciler demo: no scene %q: the scenes are %s\n", *only, strings.Join(demo.Scenes(), ", "))
		return exitUsage
	}
	pol := map[string][]byte{}
	entries, err := fs.ReadDir(policies.Files, ".")
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler demo: %v\n", err)
		return exitUsage
	}
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(policies.Files, en.Name())
		if err != nil {
			fmt.Fprintf(e.stderr, "reconciler demo: %v\n", err)
			return exitUsage
		}
		pol[en.Name()] = b
	}
	o := demo.Options{Out: e.stdout, Policies: pol, Timeout: *timeout, Only: *only}
	if *verbose {
		o.Log = e.stderr
	}
	if err := demo.Run(ctx, o); err != nil {
		fmt.Fprintf(e.stderr, "reconciler demo: %v\n", err)
		return exitInvalid
	}
	return exitOK
}
