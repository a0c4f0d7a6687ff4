// Package plan compares the spec trees of two revisions and describes, per
// changed model, what merging would do: which version it would serve, how
// the change is rolled out and measured, what happens on failure, and what
// the policies say about it.
package plan

import (
	"context"

	"reflect"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Kind says whether a change adds, changes or removes a model.
type Kind string

const (
	Add    Kind = "add"
	Update Kind = "change"
	Remove Kind = "remove"
)

// Change is what merging does to one model (one name at one stage).
type Change struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	File  string `json:"file"`
	Kind  Kind   `json:"kind"`
	// Changed lists the parts that differ from the base: serve, router,
	// path, versions, rollout, checks, shadow, experiment.
	Changed []string `json:"changed"`
	// From is the version served at the base ("" for an added model);
	// To the version served at the head ("" for a removed model).
	From string `json:"from"`
	To   string `json:"to"`

	Strategy string    `json:"strategy"`
	Steps    []float64 `json:"steps"`
	Bake     string    `json:"bake"`
	Interval string    `json:"interval"`
	// Rollout, Checks, OnFailure, Shadow and Experiment say it in words.
	Rollout    string   `json:"rollout"`
	Checks     []string `json:"checks"`
	OnFailure  string   `json:"on_failure"`
	Shadow     string   `json:"shadow,omitempty"`
	Experiment string   `json:"experiment,omitempty"`

	// What a change replaces, for reviewers: versions added and removed,
	// and the rollout, checks and on-failure descriptions of the base
	// when they differ (empty otherwise).
	VersionsAdded     []string `json:"versions_added,omitempty"`
	VersionsRemoved   []string `json:"versions_removed,omitempty"`
	PreviousRollout   string   `json:"previous_rollout,omitempty"`
	PreviousChecks    []string `json:"previous_checks,omitempty"`
	PreviousOnFailure string   `json:"previous_on_failure,omitempty"`

	// Findings are the policy findings about this model.
	Findings []diag.Diagnostic `json:"findings"`
}

// Key is "model/stage".
func (c Change) Key() string { return c.Model + "/" + c.Stage }

// ServeChanged reports whether the change moves traffic to another
// version (including adding a model).
func (c Change) ServeChanged() bool { return c.To != "" && c.From != c.To }

// Diff lists, in model order, every model that head adds, removes or
// changes relative to base. A nil tree is an empty one.
func Diff(base, head *spec.Tree) []Change {
	bm, hm := models(base), models(head)
	var out []Change
	i, j := 0, 0
	for i < len(bm) || j < len(hm) {
		switch {
		case j == len(hm) || (i < len(bm) && less(bm[i], hm[j])):
			out = append(out, describe(Remove, bm[i], nil))
			i++
		case i == len(bm) || less(hm[j], bm[i]):
			out = append(out, describe(Add, nil, hm[j]))
			j++
		default:
			if parts := changedParts(bm[i], hm[j]); len(parts) > 0 {
				c := describe(Update, bm[i], hm[j])
				c.Changed = parts
				compare(&c, bm[i], hm[j])
				out = append(out, c)
			}
			i++
			j++
		}
	}
	return out
}

func models(t *spec.Tree) []*spec.Model {
	if t == nil {
		return nil
	}
	return t.Models
}

func less(a, b *spec.Model) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Stage < b.Stage
}

// comparedParts are the parts of the policy JSON compared, in the order
// they are reported.
func comparedParts() []string {
	return []string{"serve", "router", "path", "versions", "rollout", "checks", "shadow", "experiment"}
}

func changedParts(a, b *spec.Model) []string {
	ja, jb := a.PolicyJSON(), b.PolicyJSON()
	var out []string
	for _, p := range comparedParts() {
		if !reflect.DeepEqual(ja[p], jb[p]) {
			out = append(out, p)
		}
	}
	return out
}

// PolicyChanges is the "changes" list of the policy input: every model
// whose served version the head changes or that it adds.
func PolicyChanges(changes []Change) []policy.Change {
	out := []policy.Change{}
	for _, c := range changes {
		if !c.ServeChanged() {
			continue
		}
		out = append(out, policy.Change{Model: c.Model, Stage: c.Stage, From: c.From, To: c.To, Strategy: c.Strategy})
	}
	return out
}

// Plan is a list of changes with everything the checks found.
type Plan struct {
	Base     string   `json:"base,omitempty"` // the revisions compared, as the user named them
	Head     string   `json:"head,omitempty"`
	Valid    bool     `json:"valid"` // no spec error at the head and no policy denial
	Errors   int      `json:"errors"`
	Warnings int      `json:"warnings"`
	Changes  []Change `json:"changes"`
	// Diagnostics are the head's spec problems and the policy findings
	// that belong to no change (unchanged models, global findings).
	Diagnostics []diag.Diagnostic `json:"diagnostics"`
}

// New makes a plan of changes with the head's spec diagnostics and the
// policy findings; head locates findings in the source (it may be nil).
func New(changes []Change, specDiags []diag.Diagnostic, findings []policy.Finding, head *spec.Tree) *Plan {
	p := &Plan{Changes: changes, Diagnostics: []diag.Diagnostic{}, Valid: true}
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	for i := range p.Changes {
		p.Changes[i].Findings = []diag.Diagnostic{}
	}
	p.Diagnostics = append(p.Diagnostics, specDiags...)
	p.count(specDiags)
	var loc policy.Locator
	if head != nil {
		loc = head
	}
	p.Attach(policy.Diagnostics(findings, loc))
	return p
}

// Attach files diagnostics under the change of the model they are about
// (their Model), the others with the plan's own, and counts them.
func (p *Plan) Attach(ds []diag.Diagnostic) {
	for _, d := range ds {
		placed := false
		for i := range p.Changes {
			if d.Model != "" && d.Model == p.Changes[i].Key() {
				p.Changes[i].Findings = append(p.Changes[i].Findings, d)
				placed = true
				break
			}
		}
		if !placed {
			p.Diagnostics = append(p.Diagnostics, d)
		}
	}
	p.count(ds)
}

func (p *Plan) count(ds []diag.Diagnostic) {
	for _, d := range ds {
		if d.Severity == diag.Error {
			p.Errors++
		} else {
			p.Warnings++
		}
	}
	p.Valid = p.Errors == 0
}

// All is every diagnostic of the plan: its own, then each change's.
func (p *Plan) All() []diag.Diagnostic {
	out := append([]diag.Diagnostic(nil), p.Diagnostics...)
	for _, c := range p.Changes {
		out = append(out, c.Findings...)
	}
	return out
}

// Counts returns how many models the plan adds, changes and removes.
func (p *Plan) Counts() (add, change, remove int) {
	for _, c := range p.Changes {
		switch c.Kind {
		case Add:
			add++
		case Update:
			change++
		case Remove:
			remove++
		}
	}
	return
}

// Options are what Make needs besides the two trees.
type Options struct {
	Policies *policy.Set    // nil: no policies are evaluated
	Evidence map[string]any // input.evidence, by "model/stage/version" (see Evidence)
	Context  policy.Context // input.context
	Base     string         // how to name the base revision in the output
	Head     string         // how to name the head revision in the output
	// Alone judges the head by itself (`reconciler validate`): there is
	// no base revision, so nothing changes and input.changes is empty.
	Alone bool
}

// Make is the one admission path: the GitHub Action, the reconciler,
// `reconciler validate` and `reconciler plan` judge a head with it. It
// diffs base and head and judges the head with the policies (those of the
// base: the caller loads them) and the evidence (Evidence). Policies run
// only when the head has no spec error: a half-decoded tree would give
// misleading findings. headDiags are the head's spec diagnostics.
func Make(ctx context.Context, base, head *spec.Tree, headDiags []diag.Diagnostic, o Options) (*Plan, error) {
	var changes []Change
	if !o.Alone {
		changes = Diff(base, head)
	}
	var findings []policy.Finding
	if o.Policies != nil && head != nil && !diag.HasErrors(headDiags) {
		in := input(base, head, changes)
		in.Evidence = o.Evidence
		in.Context = o.Context
		var err error
		findings, err = o.Policies.Evaluate(ctx, in)
		if err != nil {
			return nil, err
		}
	}
	p := New(changes, headDiags, findings, head)
	p.Base, p.Head = o.Base, o.Head
	return p, nil
}

// input is the policy input for head judged against base (either may be
// nil) with the given changes; evidence and context are left to the caller.
func input(base, head *spec.Tree, changes []Change) policy.Input {
	in := policy.Input{Changes: PolicyChanges(changes)}
	if head != nil {
		in.Models = head.PolicyModels()
		in.Routers = head.PolicyRouters()
		in.Notify = head.PolicyNotify()
	}
	if base != nil {
		in.Base.Models = base.PolicyModels()
	}
	return in
}
