package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/zclconf/go-cty/cty"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// OwnOutcome is one of the reconciler's outcome commits found at a head,
// however it reached the branch.
type OwnOutcome struct {
	Action Action `json:"action"`
	Model  string `json:"model"`
	Stage  string `json:"stage"`
	// From and To are serve before and after it.
	From string `json:"from"`
	To   string `json:"to"`
	// Carrier is the commit whose message carries the trailers: the head
	// itself (pushed by the reconciler, or its pull request squash- or
	// rebase-merged), or the second parent of a merge commit (its pull
	// request merged with "Create a merge commit").
	Carrier string `json:"carrier"`
	Merged  bool   `json:"merged,omitempty"`
}

// Key is "model/stage".
func (o OwnOutcome) Key() string { return o.Model + "/" + o.Stage }

// RecogniseOutcome decides whether the commit rev names is one of the
// reconciler's outcome commits, the way it reached the branch aside: pushed
// by the reconciler, or its pull request (`--push pr`) merged with a merge
// commit, squashed or rebased. It is when
//
//   - the commit's message (or, for a merge commit, its second parent's)
//     carries the Switchyard-Action and Switchyard-Model trailers, and
//   - the commit's tree is exactly what the reconciler writes for that
//     outcome on the commit's first parent: the outcome is computed again
//     there (serve from the parent's value to the head's, a true revert or
//     an edit, the experiment block removed) and the trees must be equal,
//   - and the version it serves is one the outcome may serve: a fallback
//     serves the rollout's fallback, a roll-through its roll_through, a
//     promotion one of the experiment's variants; a conclusion keeps serve.
//
// The trees are compared, never only the message, so a pull request that a
// person changed before merging (another file, another line) is not the
// reconciler's: it is judged as a person's commit. why says, for a commit
// that carries the trailers but is not recognised, what differs (empty for
// a commit without them). Nothing is written to repo.
func RecogniseOutcome(ctx context.Context, repo *git.Repository, rev string) (own *OwnOutcome, why string, err error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, "", fmt.Errorf("resolve revision %q: %w", rev, err)
	}
	head, err := repo.CommitObject(*h)
	if err != nil {
		return nil, "", fmt.Errorf("read commit %s: %w", h, err)
	}
	carrier := head
	switch len(head.ParentHashes) {
	case 1:
	case 2:
		if Trailers(head.Message)[TrailerAction] == "" {
			if carrier, err = head.Parent(1); err != nil {
				return nil, "", fmt.Errorf("read the merged commit of %s: %w", h, err)
			}
		}
	default:
		return nil, "", nil // a root commit, or an octopus merge
	}
	tr := Trailers(carrier.Message)
	action := Action(tr[TrailerAction])
	if action == "" {
		return nil, "", nil
	}
	merged := carrier != head
	trailer := fmt.Sprintf("%s: %s", TrailerAction, action)
	if merged {
		trailer += " (on the merged commit " + commitid.Short(carrier.Hash.String()) + ")"
	}
	base, err := head.Parent(0)
	if err != nil {
		return nil, "", fmt.Errorf("read the parent of %s: %w", h, err)
	}
	o, why, err := outcomeAt(base, head, action, tr[TrailerModel])
	if err != nil || why != "" {
		return nil, notOwn(trailer, why), err
	}
	if why, err = recompute(ctx, repo, base, head, o); err != nil || why != "" {
		return nil, notOwn(trailer, why), err
	}
	return &OwnOutcome{Action: action, Model: o.Model, Stage: o.Stage, From: o.From, To: o.To,
		Carrier: carrier.Hash.String(), Merged: merged}, "", nil
}

func notOwn(trailer, why string) string {
	if why == "" {
		return ""
	}
	return fmt.Sprintf("it carries %s but is not the reconciler's outcome: %s", trailer, why)
}

// outcomeAt reads the outcome the trailers name from the head and its first
// parent, base: the model's file, serve before and after, and whether the
// version served is one the action may serve.
func outcomeAt(base, head *object.Commit, action Action, key string) (rollout.WriteCommit, string, error) {
	model, stage, ok := cutKey(key)
	if !ok {
		return rollout.WriteCommit{}, fmt.Sprintf("its %s trailer %q does not name a model as name/stage", TrailerModel, key), nil
	}
	o := rollout.WriteCommit{Kind: action, Model: model, Stage: stage}
	if err := validateKind(o); err != nil {
		return rollout.WriteCommit{}, err.Error(), nil
	}
	changed, err := changedPaths(base, head)
	if err != nil {
		return rollout.WriteCommit{}, "", err
	}
	var block []byte
	for _, p := range changed {
		src, ok, err := fileAt(base, p)
		if err != nil {
			return rollout.WriteCommit{}, "", err
		}
		if b, _ := modelBlock(src, p, model, stage); ok && b != nil {
			o.File, block = p, src
			break
		}
	}
	if o.File == "" {
		return rollout.WriteCommit{}, fmt.Sprintf("it changes no file holding model %q %q at its parent %s", model, stage, commitid.Short(base.Hash.String())), nil
	}
	o.From, _ = parseServe(block, o.File, model, stage)
	after, ok, err := fileAt(head, o.File)
	if err != nil {
		return rollout.WriteCommit{}, "", err
	}
	if !ok {
		return rollout.WriteCommit{}, "it deletes " + o.File, nil
	}
	o.To, _ = parseServe(after, o.File, model, stage)
	if why := mayServe(block, o); why != "" {
		return rollout.WriteCommit{}, why, nil
	}
	return o, "", nil
}

// mayServe says why the outcome o may not serve o.To, judged by the model
// block at the parent (src): "" when it may.
func mayServe(src []byte, o rollout.WriteCommit) string {
	b, _ := modelBlock(src, o.File, o.Model, o.Stage)
	rollout := innerBlock(b, "rollout")
	setting := func(name string) string {
		if rollout == nil {
			return ""
		}
		return stringAttr(rollout.Body, name)
	}
	switch o.Kind {
	case ActionFallback:
		if fb := setting("fallback"); o.To != fb {
			return fmt.Sprintf("a fallback serves the rollout's fallback %q, this serves %q", fb, o.To)
		}
	case ActionRollThrough:
		if rt := setting("roll_through"); o.To != rt {
			return fmt.Sprintf("a roll-through serves the rollout's roll_through %q, this serves %q", rt, o.To)
		}
	case ActionPromote:
		var variants []string
		if exp := innerBlock(b, "experiment"); exp != nil {
			if v, ok := literal(exp.Body, "variants"); ok && (v.Type().IsObjectType() || v.Type().IsMapType()) {
				for it := v.ElementIterator(); it.Next(); {
					k, _ := it.Element()
					if k.Type().Equals(cty.String) {
						variants = append(variants, k.AsString())
					}
				}
			}
		}
		if !slices.Contains(variants, o.To) {
			return fmt.Sprintf("a promotion serves one of the experiment's variants %v, this serves %q", variants, o.To)
		}
	case ActionConclude:
		if o.To != o.From {
			return fmt.Sprintf("a conclusion keeps serve %q, this serves %q", o.From, o.To)
		}
	case ActionRollback:
		if o.To == o.From {
			return fmt.Sprintf("a rollback changes serve, this keeps %q", o.From)
		}
	}
	return ""
}

// recompute writes o again on base, in memory, and says what differs from
// head ("" when the trees are equal).
func recompute(ctx context.Context, repo *git.Repository, base, head *object.Commit, o rollout.WriteCommit) (string, error) {
	view, err := scratch(repo)
	if err != nil {
		return "", err
	}
	// The commit's own time signs the scratch commit: only trees are
	// compared, and no clock is read.
	when := head.Committer.When
	r := &Repo{repo: view, opts: Options{AuthorName: "Switchyard", AuthorEmail: "switchyard@localhost", Now: func() time.Time { return when }}}
	_, c, err := r.apply(ctx, base, o)
	if errors.Is(err, ErrSuperseded) {
		return "the reconciler would not write it on " + commitid.Short(base.Hash.String()) + ": " + err.Error(), nil
	}
	if err != nil {
		return "", err
	}
	if c == nil {
		return fmt.Sprintf("its parent %s already says what it says", commitid.Short(base.Hash.String())), nil
	}
	if c.TreeHash == head.TreeHash {
		return "", nil
	}
	diff, err := changedPaths(c, head)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("its tree differs from the %s the reconciler writes on %s in %s", o.Kind, commitid.Short(base.Hash.String()), strings.Join(diff, ", ")), nil
}

// changedPaths lists the paths whose content differs between a and b.
func changedPaths(a, b *object.Commit) ([]string, error) {
	ta, err := a.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", a.Hash, err)
	}
	tb, err := b.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", b.Hash, err)
	}
	changes, err := object.DiffTree(ta, tb)
	if err != nil {
		return nil, fmt.Errorf("diff %s and %s: %w", a.Hash, b.Hash, err)
	}
	var out []string
	for _, ch := range changes {
		p := ch.To.Name
		if p == "" {
			p = ch.From.Name
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// cutKey splits "model/stage" at its last slash.
func cutKey(key string) (model, stage string, ok bool) {
	i := strings.LastIndex(key, "/")
	if i <= 0 || i == len(key)-1 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// RecogniseOutcome is the package function on the clone: see there.
func (r *Repo) RecogniseOutcome(ctx context.Context, rev string) (*OwnOutcome, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev == "" || rev == "HEAD" {
		rev = r.branchRef().String()
	}
	return RecogniseOutcome(ctx, r.repo, rev)
}
