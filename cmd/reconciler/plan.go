package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/go-git/go-git/v5"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// cmdPlan reads two revisions of the repository (no checkout), diffs their
// specs, judges the head with the base's policies and prints what merging
// would do.
func cmdPlan(ctx context.Context, e *env, args []string) int {
	fl := flag.NewFlagSet("plan", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	repo := fl.String("repo", ".", "Git repository `DIR` (a working tree or a bare repository)")
	base := fl.String("base", "", "base `REV` the change is merged into (branch, tag, hash, HEAD~1 ...); required")
	head := fl.String("head", "HEAD", "head `REV` being judged")
	specDir := fl.String("path", spec.DefaultPath, "spec `DIR` inside the repository")
	polDir := fl.String("policies", defaultPolicies, "Rego policy `DIR`, read from the BASE revision")
	format := fl.String("format", "text", "output `FORMAT`: text, json or markdown")
	evidenceFile := fl.String("evidence", "", "JSON `FILE` with the policy input's evidence ({\"model/stage/version\": {\"validation\": {\"passed\": true}}})")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: reconciler plan [--repo DIR] --base REV [--head REV] [--format text|json|markdown] [--evidence FILE]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "reconciler plan: "+format+"\n", a...)
		return exitUsage
	}
	if fl.NArg() > 0 {
		return fail("unexpected argument %q", fl.Arg(0))
	}
	if *base == "" {
		fl.Usage()
		return fail("--base is required")
	}
	switch *format {
	case plan.FormatText, plan.FormatJSON, plan.FormatMarkdown:
	default:
		return fail("unknown --format %q (want text, json or markdown)", *format)
	}
	var evidence map[string]any
	if *evidenceFile != "" {
		b, err := os.ReadFile(*evidenceFile)
		if err != nil {
			return fail("--evidence: %v", err)
		}
		if err := json.Unmarshal(b, &evidence); err != nil {
			return fail("--evidence %s: not a JSON object: %v", *evidenceFile, err)
		}
	}
	root, err := localRepoDir(*repo)
	if err != nil {
		return fail("%v", err)
	}
	dir, err := pathInRepo(root, *specDir, "--path")
	if err != nil {
		return fail("%v", err)
	}
	pdir, err := pathInRepo(root, *polDir, "--policies")
	if err != nil {
		return fail("%v", err)
	}
	r, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return fail("open Git repository %s: %v", root, err)
	}
	baseFS, baseHash, err := gitops.TreeFS(r, *base)
	if err != nil {
		return fail("--base: %v", err)
	}
	headFS, headHash, err := gitops.TreeFS(r, *head)
	if err != nil {
		return fail("--head: %v", err)
	}

	var baseTree *spec.Tree
	if _, err := fs.Stat(baseFS, dir); err == nil {
		var baseDiags []diag.Diagnostic
		baseTree, baseDiags = spec.Load(baseFS, dir)
		if diag.HasErrors(baseDiags) {
			fmt.Fprintf(e.stderr, "reconciler plan: note: the base (%s) has spec errors; the plan compares against what could be read of it\n", *base)
		}
	}
	if _, err := fs.Stat(headFS, dir); err != nil {
		return fail("spec directory %s not found at --head %s", dir, *head)
	}
	headTree, headDiags := spec.Load(headFS, dir)

	// Invariant 6: the policies come from the base, never from the head.
	pols, code := loadPolicySet(ctx, e, "plan", baseFS, pdir, flagGiven(fl, "policies"), "text")
	if code != exitOK {
		return code
	}
	ectx, cancel := context.WithTimeout(ctx, policyTimeout)
	defer cancel()
	p, err := plan.Make(ectx, baseTree, headTree, headDiags, plan.Options{
		Policies: pols,
		Evidence: evidence,
		Context:  policy.Context{Event: "plan"},
		Base:     fmt.Sprintf("%s (%s)", *base, commitid.Short(baseHash.String())),
		Head:     fmt.Sprintf("%s (%s)", *head, commitid.Short(headHash.String())),
	})
	if err != nil {
		return fail("%v", err)
	}
	var out bytes.Buffer
	if err := plan.Render(&out, p, *format); err != nil {
		return fail("%v", err)
	}
	if _, err := e.stdout.Write(out.Bytes()); err != nil {
		return fail("%v", err)
	}
	if !p.Valid {
		return exitInvalid
	}
	return exitOK
}
