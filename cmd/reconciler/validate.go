package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

const defaultPolicies = "policies"

// policyTimeout bounds one evaluation of the policies, so that a policy
// that enumerates something huge fails instead of hanging the command.
const policyTimeout = time.Minute

// cmdValidate loads the specs of a working tree, checks them against the
// policies and prints every problem, Terraform-style or as JSON.
func cmdValidate(ctx context.Context, e *env, args []string) int {
	fl := flag.NewFlagSet("validate", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	repo := fl.String("repo", ".", "repository root `DIR`; --path and --policies are relative to it")
	specDir := fl.String("path", spec.DefaultPath, "spec `DIR` inside the repository")
	polDir := fl.String("policies", defaultPolicies, "Rego policy `DIR`, relative to --repo unless absolute (skipped with a note when the default is absent)")
	fl.Bool("offline", false, "never contact a model server (validate never does; offline dataset validation runs in the GitHub Action)")
	format := fl.String("format", "text", "output `FORMAT`: text or json")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: reconciler validate [--path DIR] [--policies DIR] [--offline] [--format text|json] [--repo DIR]")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, e, args); !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(e.stderr, "reconciler validate: unknown --format %q (want text or json)\n", *format)
		return exitUsage
	}
	explicitPolicies := flagGiven(fl, "policies")

	root, err := localRepoDir(*repo)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler validate: %v\n", err)
		return exitUsage
	}
	fsys := os.DirFS(root)
	dir, err := pathInRepo(root, *specDir, "--path")
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler validate: %v\n", err)
		return exitUsage
	}
	if _, err := fs.Stat(fsys, dir); err != nil {
		fmt.Fprintf(e.stderr, "reconciler validate: spec directory %s not found in %s: point --path (and --repo) at the directory that holds the *.hcl specs\n", dir, root)
		return exitUsage
	}

	tree, diags := spec.Load(fsys, dir)
	var sources map[string][]byte
	if tree != nil {
		sources = tree.Sources
	}

	// Policies may live outside the repository (a platform team's
	// checkout); files are then named relative to their parent directory.
	pfs, pdir := fsys, ""
	if pdir, err = pathInRepo(root, *polDir, "--policies"); err != nil {
		abs := *polDir
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(root, abs)
		}
		pfs, pdir = os.DirFS(filepath.Dir(abs)), filepath.Base(abs)
	}
	pols, code := loadPolicySet(ctx, e, "validate", pfs, pdir, explicitPolicies, *format)
	if code != exitOK {
		return code
	}
	specValid := !diag.HasErrors(diags)
	if pols != nil && tree != nil && specValid {
		ectx, cancel := context.WithTimeout(ctx, policyTimeout)
		p, err := plan.Make(ectx, nil, tree, diags, plan.Options{
			Policies: pols, Context: policy.Context{Event: "validate"}, Alone: true})
		cancel()
		if err != nil {
			fmt.Fprintf(e.stderr, "reconciler validate: %v\n", err)
			return exitUsage
		}
		diags = p.All()
		diag.Sort(diags)
	}

	if err := writeDiags(e.stdout, *format, diags, sources); err != nil {
		fmt.Fprintf(e.stderr, "reconciler validate: %v\n", err)
		return exitUsage
	}
	if *format == "text" {
		r := diag.NewReport(diags)
		n := 0
		if tree != nil {
			n = len(tree.Models)
		}
		if r.Valid {
			fmt.Fprintf(e.stdout, "Success! %s valid, %s.\n", countNoun(n, "model"), countNoun(r.Warnings, "warning"))
		} else {
			skipped := ""
			if pols != nil && !specValid {
				skipped = " Policies are checked once the specs are valid."
			}
			fmt.Fprintf(e.stdout, "Invalid: %s, %s.%s\n", countNoun(r.Errors, "error"), countNoun(r.Warnings, "warning"), skipped)
		}
	}
	if diag.HasErrors(diags) {
		return exitInvalid
	}
	return exitOK
}

// loadPolicySet loads the policies in dir of fsys. A missing dir is a note
// on stderr (nil set, exitOK) unless the user named it; a policy that does
// not compile is reported with its file and line and gives exitUsage.
func loadPolicySet(ctx context.Context, e *env, cmd string, fsys fs.FS, dir string, explicit bool, format string) (*policy.Set, int) {
	pols, err := policy.Load(ctx, fsys, dir)
	var le *policy.LoadError
	switch {
	case err == nil:
		return pols, exitOK
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		fmt.Fprintf(e.stderr, "reconciler %s: note: no policy directory %s, policies skipped\n", cmd, dir)
		return nil, exitOK
	case errors.As(err, &le):
		fmt.Fprintf(e.stderr, "reconciler %s: a policy in %s does not compile:\n", cmd, dir)
		sources := map[string][]byte{}
		for _, d := range le.Diagnostics {
			if b, err := fs.ReadFile(fsys, d.File); err == nil {
				sources[d.File] = b
			}
		}
		out := e.stderr
		if format == "json" {
			out = e.stdout
		}
		writeDiags(out, format, le.Diagnostics, sources)
		return nil, exitUsage
	default:
		fmt.Fprintf(e.stderr, "reconciler %s: %v\n", cmd, err)
		return nil, exitUsage
	}
}

func writeDiags(w io.Writer, format string, diags []diag.Diagnostic, sources map[string][]byte) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(diag.NewReport(diags))
	}
	return diag.WriteText(w, diags, sources)
}

// flagGiven reports whether the user gave flag name.
func flagGiven(fl *flag.FlagSet, name string) bool {
	set := false
	fl.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// localRepoDir checks that dir is a directory and returns it absolute.
func localRepoDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--repo %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("--repo %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("--repo %s is not a directory", dir)
	}
	return abs, nil
}

// pathInRepo turns a --path or --policies value into a slash path inside the
// repository root: relative values are taken relative to the root,
// absolute ones must lie inside it.
func pathInRepo(root, p, flagName string) (string, error) {
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%s %s is outside the repository %s", flagName, p, root)
		}
		p = rel
	}
	p = path.Clean(filepath.ToSlash(p))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%s %s is outside the repository %s", flagName, p, root)
	}
	return p, nil
}

func countNoun(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
