package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// cmdFmt formats spec files with hclwrite, the way `terraform fmt` does:
// every *.hcl under each PATH (default "rollouts"), rewritten in place and
// listed when it changed. With --check nothing is written: the files that
// would change are listed and the exit code is 1. A file with a syntax
// error is never formatted; its diagnostics are printed and the exit code
// is 1. A missing PATH is a usage error (2).
func cmdFmt(ctx context.Context, e *env, args []string) int {
	flags := flag.NewFlagSet("fmt", flag.ContinueOnError)
	flags.SetOutput(e.stderr)
	check := flags.Bool("check", false, "list the files that are not formatted and exit 1, without changing them")
	flags.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: reconciler fmt [--check] [PATH...]")
		fmt.Fprintln(e.stderr, "\nFormats every *.hcl file under each PATH (default: rollouts).")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	paths := flags.Args()
	if len(paths) == 0 {
		paths = []string{spec.DefaultPath}
	}
	files, err := fmtFiles(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler fmt: %v\n", err)
		return exitUsage
	}
	var diags []diag.Diagnostic
	sources := map[string][]byte{}
	changed := 0
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(e.stderr, "reconciler fmt: %v\n", err)
			return exitUsage
		}
		src, info, err := readSpecFile(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "reconciler fmt: %v\n", err)
			return exitUsage
		}
		sources[name] = src
		if _, ds := spec.Parse(name, src); diag.HasErrors(ds) {
			diags = append(diags, ds...)
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		changed++
		fmt.Fprintln(e.stdout, name)
		if *check {
			continue
		}
		if err := os.WriteFile(name, out, info.Mode().Perm()); err != nil {
			fmt.Fprintf(e.stderr, "reconciler fmt: writing %s: %v\n", name, err)
			return exitUsage
		}
	}
	if len(diags) > 0 {
		diag.Sort(diags)
		_ = diag.WriteText(e.stderr, diags, sources)
		fmt.Fprintf(e.stderr, "reconciler fmt: %d file(s) not formatted because of syntax errors\n", countFiles(diags))
		return exitInvalid
	}
	if *check && changed > 0 {
		fmt.Fprintf(e.stderr, "reconciler fmt: %d file(s) need formatting; run 'reconciler fmt' to fix them\n", changed)
		return exitInvalid
	}
	return exitOK
}

// fmtFiles expands paths into the *.hcl files to format: a file is taken
// as given, a directory is walked (without following symlinks to
// directories, so a symlink loop cannot hang it).
func fmtFiles(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, unwrapPathErr(err))
		}
		if !info.IsDir() {
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if q != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), ".hcl") && d.Type().IsRegular() && !seen[q] {
				seen[q] = true
				files = append(files, q)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking %s: %w", p, err)
		}
	}
	sort.Strings(files)
	return files, nil
}

func readSpecFile(name string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathErr(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathErr(err))
	}
	src, err := io.ReadAll(io.LimitReader(f, spec.MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %w", name, unwrapPathErr(err))
	}
	return src, info, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func countFiles(diags []diag.Diagnostic) int {
	files := map[string]bool{}
	for _, d := range diags {
		files[d.File] = true
	}
	return len(files)
}
