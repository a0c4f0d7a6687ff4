package action

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/gitops"
	"github.com/switchyard-dev/switchyard/pkg/notes"
	"github.com/switchyard-dev/switchyard/pkg/offline"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// pullRequest judges the change of a pull request and reports it.
func (r *runner) pullRequest(ctx context.Context) (int, error) {
	pr := r.ev.pr
	repo, err := openRepo(r.cfg.Workspace)
	if err != nil {
		return ExitEnvironment, err
	}
	baseC, err := commitOf(repo, pr.baseSHA, "base")
	if err != nil {
		return ExitEnvironment, err
	}
	headC, err := headCommit(repo, baseC, pr.headSHA)
	if err != nil {
		return ExitEnvironment, err
	}
	baseFS, err := newTreeFS(repo, baseC)
	if err != nil {
		return ExitEnvironment, err
	}
	headFS, err := newTreeFS(repo, headC)
	if err != nil {
		return ExitEnvironment, err
	}
	// The policies that judge the change come from the base commit, so
	// the change cannot weaken them.
	pols, noPolicies, err := loadBasePolicies(ctx, baseFS, r.cfg.Policies, pr.baseSHA, r.cfg.Now)
	if err != nil {
		return ExitEnvironment, err
	}
	noted, err := historyNotes(ctx, repo, headC.Hash)
	if err != nil {
		return ExitEnvironment, err
	}
	rep, err := r.judge(ctx, judgeInput{
		baseFS: baseFS, headFS: headFS, baseSHA: pr.baseSHA, headSHA: headC.Hash.String(),
		policies: pols, noPolicies: noPolicies, noted: noted,
		context: policy.Context{Event: r.ev.name, Actor: r.ev.actor, Labels: r.ownLabels(ctx, repo, headC, pr.labels), Now: r.cfg.Now()},
	})
	if err != nil {
		return ExitEnvironment, err
	}
	// The verdicts go on the pull request's head commit, which a merge
	// brings in, before the check run says the change may merge.
	if rep.Notes, err = r.recordValidations(ctx, pr.headSHA, rep.Plan.Changes, rep.Evidence); err != nil {
		return ExitEnvironment, err
	}
	if r.cfg.ServerURL != "" && r.cfg.RunID != "" {
		rep.RunURL = fmt.Sprintf("%s/%s/%s/actions/runs/%s", strings.TrimRight(r.cfg.ServerURL, "/"), r.owner, r.repo, r.cfg.RunID)
	}
	return r.reportPR(ctx, pr, rep)
}

// ownLabels adds "switchyard:<action>" to the pull request's labels when
// the change is the reconciler's own outcome (its `--push pr` pull request,
// unchanged: gitops.RecogniseOutcome), as the reconciler labels it when it
// judges the merged head, so that review and merge judge it alike. A
// change that carries the trailers but is not the outcome gets a warning.
func (r *runner) ownLabels(ctx context.Context, repo *git.Repository, head *object.Commit, labels []string) []string {
	own, why, err := gitops.RecogniseOutcome(ctx, repo, head.Hash.String())
	switch {
	case err != nil:
		why = "it could not be compared with the reconciler's outcome: " + err.Error()
	case own != nil:
		label := "switchyard:" + string(own.Action)
		if slices.Contains(labels, label) {
			return labels
		}
		fmt.Fprintf(r.cfg.Stdout, "switchyard: %s is the reconciler's own %s of %s: judged with the label %s\n",
			commitid.Short(head.Hash.String()), own.Action, own.Key(), label)
		return append(labels[:len(labels):len(labels)], label)
	case why == "":
		return labels
	}
	fmt.Fprintf(r.cfg.Stdout, "::warning title=switchyard::%s\n", escapeData(fmt.Sprintf(
		"%s is judged as a person's change, without the reconciler's label: %s", commitid.Short(head.Hash.String()), why)))
	return labels
}

// loadBasePolicies loads the policy set of the base commit. A base
// without a policy directory has no policies; policies that do not compile
// are an environment error: the change cannot be judged.
func loadBasePolicies(ctx context.Context, baseFS fs.FS, dir, baseSHA string, now func() time.Time) (*policy.Set, bool, error) {
	set, err := policy.Load(ctx, baseFS, dir, policy.WithClock(now))
	if err != nil {
		var le *policy.LoadError
		switch {
		case errors.As(err, &le):
			return nil, false, envErrorf("the policies in %s/ at the base commit %s do not compile, so this change cannot be judged: %v. Fix them on the base branch first (a pull request cannot change the policies that judge it)", dir, commitid.Short(baseSHA), err)
		case errors.Is(err, fs.ErrNotExist):
			return nil, true, nil
		}
		return nil, false, envErrorf("loading the policies of the base commit %s: %v", commitid.Short(baseSHA), err)
	}
	return set, false, nil
}

// judgeInput is what judge compares and with what.
type judgeInput struct {
	baseFS, headFS   fs.FS
	baseSHA, headSHA string
	policies         *policy.Set // nil: none
	noPolicies       bool
	noted            []notes.Noted // the verdict notes of the head's history
	context          policy.Context
}

// judge validates the head, diffs it against the base, runs offline
// validation of promoted and added versions, and evaluates the policies.
func (r *runner) judge(ctx context.Context, in judgeInput) (*Report, error) {
	// The two loads are independent: run them side by side.
	var baseTree *spec.Tree
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		baseTree, _ = spec.Load(in.baseFS, r.cfg.Path) // the base's own problems are not this change's
	}()
	headTree, headDiags := spec.Load(in.headFS, r.cfg.Path)
	<-loaded
	changes := plan.Diff(baseTree, headTree)
	rep := &Report{BaseSHA: in.baseSHA, HeadSHA: in.headSHA, SpecDir: r.cfg.Path, PolicyDir: r.cfg.Policies,
		NoPolicies: in.noPolicies, Evidence: map[string]*Evidence{}}
	if in.policies != nil {
		rep.PolicyFiles = in.policies.Files()
	}

	var valDiags []diag.Diagnostic
	if diag.HasErrors(headDiags) {
		rep.PoliciesSkip = "the specs have errors; fix them first"
	} else if r.cfg.OfflineValidation {
		valDiags = r.validate(ctx, in.headFS, baseTree, headTree, changes, rep)
	}
	// The validations just run are the newest verdicts on the head: the
	// evidence is what the reconciler reads once they are noted there.
	noted := in.noted
	now := r.cfg.Now()
	lines, err := validationVerdicts(changes, rep.Evidence, in.headSHA, now)
	if err != nil {
		return nil, envErrorf("encoding the offline validation verdicts: %v", err)
	}
	if len(lines) > 0 {
		fresh := notes.Noted{SHA: in.headSHA, Committed: now}
		for _, l := range lines {
			fresh.Notes = append(fresh.Notes, l.line)
		}
		noted = append(noted[:len(noted):len(noted)], fresh)
	}
	evidence := plan.Evidence(noted, baseTree, headTree)
	showShadow(rep, changes, baseTree, headTree, evidence)
	p, err := plan.Make(ctx, baseTree, headTree, headDiags, plan.Options{
		Policies: in.policies, Evidence: evidence, Context: in.context,
		Base: commitid.Short(in.baseSHA), Head: commitid.Short(in.headSHA),
	})
	if err != nil {
		return nil, envErrorf("evaluating the base commit's policies: %v", err)
	}
	p.Attach(valDiags)
	rep.Plan = p
	return rep, nil
}

// showShadow puts in the report the shadow verdicts of the evidence on
// the versions each change serves, in its own stage.
func showShadow(rep *Report, changes []plan.Change, base, head *spec.Tree, evidence map[string]any) {
	for _, c := range changes {
		for _, v := range plan.ChangedVersions(c, base, head) {
			ent, _ := evidence[c.Key()+"/"+v].(map[string]any)
			e, ok := ent[notes.EvidenceShadow].(map[string]any)
			if !ok {
				continue
			}
			ev := rep.evidenceFor(c.Key())
			if ev.Shadow == nil {
				ev.Shadow = map[string]map[string]any{}
			}
			ev.Shadow[v] = e
		}
	}
}

func (r *Report) evidenceFor(key string) *Evidence {
	e := r.Evidence[key]
	if e == nil {
		e = &Evidence{}
		r.Evidence[key] = e
	}
	return e
}

// validationJob is one version to validate offline.
type validationJob struct {
	key, version string
	v            *spec.Version
	serving      *spec.Version // what serves now (the base's serve), for baseline = "serve"
	file         string
}

// validate runs the offline validation of every promoted or added version
// that has a validation block, a bounded number at a time, and returns a
// diagnostic for each one that failed or could not run.
func (r *runner) validate(ctx context.Context, headFS fs.FS, base, head *spec.Tree, changes []plan.Change, rep *Report) []diag.Diagnostic {
	var jobs []validationJob
	for _, c := range changes {
		hm := head.Model(c.Model, c.Stage)
		var serving *spec.Version
		if bm := base.Model(c.Model, c.Stage); bm != nil {
			serving = bm.Versions[bm.Serve]
		}
		for _, name := range plan.ChangedVersions(c, base, head) {
			if v := hm.Versions[name]; v != nil && v.Validation != nil {
				jobs = append(jobs, validationJob{key: c.Key(), version: name, v: v, serving: serving, file: hm.File})
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	runner := &offline.Runner{Client: r.cfg.ModelClient, Concurrency: r.cfg.ValidationConcurrency,
		Timeout: r.cfg.ValidationTimeout, Now: r.cfg.Now}
	outcomes := make([]*ValidationOutcome, len(jobs))
	sem := make(chan struct{}, max(1, r.cfg.ValidationConcurrency/4))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := runner.Compare(ctx, headFS, j.v, j.serving)
			if err != nil {
				outcomes[i] = &ValidationOutcome{Err: err.Error()}
				return
			}
			outcomes[i] = &ValidationOutcome{Result: &res}
		}()
	}
	wg.Wait()
	var out []diag.Diagnostic
	for i, j := range jobs {
		o := outcomes[i]
		e := rep.evidenceFor(j.key)
		if e.Validations == nil {
			e.Validations = map[string]*ValidationOutcome{}
		}
		e.Validations[j.version] = o
		if o.Passed() {
			continue
		}
		d := diag.Diagnostic{Severity: diag.Error, Source: diag.SourceValidation, File: j.file, Model: j.key,
			Summary: fmt.Sprintf("Offline validation of %s failed", j.version),
			Detail:  fmt.Sprintf("Version %s of model %s did not pass its offline validation: ", j.version, j.key)}
		if o.Err != "" {
			d.Summary = fmt.Sprintf("Offline validation of %s could not run", j.version)
			d.Detail += o.Err
		} else {
			d.Detail += o.Result.Reason
		}
		if rng, ok := head.FieldRange(j.key, "versions."+j.version+".validation"); ok {
			d.File, d.Line, d.Column, d.EndLine, d.EndCol = rng.Filename, rng.Start.Line, rng.Start.Column, rng.End.Line, rng.End.Column
		}
		out = append(out, d)
	}
	return out
}
