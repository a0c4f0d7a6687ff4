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
	p := &Plan{Changes: changes, Diagnostics: []diag.Diagnostic{}}
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	byKey := map[string]int{}
	for i := range p.Changes {
		p.Changes[i].Findings = []diag.Diagnostic{}
		byKey[p.Changes[i].Key()] = i
	}
	p.Diagnostics = append(p.Diagnostics, specDiags...)
	var loc policy.Locator
	if head != nil {
		loc = head
	}
	ds := policy.Diagnostics(findings, loc)
	for k, f := range findings {
		if i, ok := byKey[f.Key()]; ok {
			p.Changes[i].Findings = append(p.Changes[i].Findings, ds[k])
		} else {
			p.Diagnostics = append(p.Diagnostics, ds[k])
		}
	}
	count := func(d diag.Diagnostic) {
		if d.Severity == diag.Error {
			p.Errors++
		} else {
			p.Warnings++
		}
	}
	for _, d := range ds {
		count(d)
	}
	for _, d := range specDiags {
		count(d)
	}
	p.Valid = p.Errors == 0
	return p
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
	Evidence map[string]any // input.evidence, by "model/stage/version"
	Context  policy.Context // input.context
	Base     string         // how to name the base revision in the output
	Head     string         // how to name the head revision in the output
}

// Make diffs base and head and judges the head with the policies. Policies
// run only when the head has no spec error: a half-decoded tree would give
// misleading findings. headDiags are the head's spec diagnostics.
func Make(ctx context.Context, base, head *spec.Tree, headDiags []diag.Diagnostic, o Options) (*Plan, error) {
	changes := Diff(base, head)
	var findings []policy.Finding
	if o.Policies != nil && head != nil && !diag.HasErrors(headDiags) {
		in := Input(base, head, changes)
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

// Input is the policy input for head judged against base (either may be
// nil) with the given changes; evidence and context are left to the caller.
func Input(base, head *spec.Tree, changes []Change) policy.Input {
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
