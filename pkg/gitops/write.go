package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Written says what WriteOutcomeDetail did.
type Written struct {
	// SHA is the commit written; when AlreadyDone, the head that already
	// said what the outcome says.
	SHA string `json:"sha"`
	// Revert is true for a true revert, false for an hclwrite edit.
	Revert      bool `json:"revert"`
	AlreadyDone bool `json:"already_done"`
	// PullRequest is the pull request's URL with `--push pr`, and
	// PullRequestCreated when it was opened.
	PullRequest        string    `json:"pull_request,omitempty"`
	PullRequestCreated time.Time `json:"pull_request_created,omitzero"`
}

// WriteOutcome writes o as a commit on the branch and pushes it (or opens a
// pull request), and returns the commit's sha. See WriteOutcomeDetail.
func (r *Repo) WriteOutcome(ctx context.Context, o rollout.WriteCommit) (string, error) {
	w, err := r.WriteOutcomeDetail(ctx, o)
	return w.SHA, err
}

// WriteOutcomeDetail fetches, applies o on the remote head (a true revert
// when it reverts cleanly, otherwise an edit of serve only) and pushes. A
// non-fast-forward rejection is retried (fetch, reset, re-apply) up to
// PushAttempts times with backoff. Any other failure returns an error and
// leaves nothing behind: the caller retries. An outcome the remote head
// already agrees with writes nothing, so retries never write a second
// commit. ErrSuperseded: serve changed since.
func (r *Repo) WriteOutcomeDetail(ctx context.Context, o rollout.WriteCommit) (Written, error) {
	if err := validate(o); err != nil {
		return Written{}, err
	}
	res, err := r.flush(ctx, []rollout.WriteCommit{o}, nil)
	if err != nil {
		return Written{}, err
	}
	w, ok := res[o.Key()]
	if !ok {
		return Written{}, fmt.Errorf("outcome %s for %s: not written", o.Kind, o.Key())
	}
	return w.Written, w.err
}

type result struct {
	Written
	err error
}

// flush pushes outcomes and notes.
func (r *Repo) flush(ctx context.Context, outcomes []rollout.WriteCommit, notes []pendingNote) (map[string]result, error) {
	if r.opts.PullRequests != nil && len(outcomes) > 0 {
		r.mu.Lock()
		res, err := r.flushPR(ctx, outcomes)
		r.mu.Unlock()
		if err != nil || len(notes) == 0 {
			return res, err
		}
		_, err = r.flushDirect(ctx, nil, notes)
		return res, err
	}
	return r.flushDirect(ctx, outcomes, notes)
}

// flushDirect pushes outcomes to the branch and notes to the notes ref,
// retrying non-fast-forward rejections; it holds the lock for each
// attempt, not while it waits between them.
func (r *Repo) flushDirect(ctx context.Context, outcomes []rollout.WriteCommit, notes []pendingNote) (map[string]result, error) {
	backoff := r.opts.Backoff
	for attempt := 1; ; attempt++ {
		r.mu.Lock()
		res, err := r.pushOnce(ctx, outcomes, notes)
		r.mu.Unlock()
		if err == nil {
			return res, nil
		}
		if !isNonFastForward(err) {
			return nil, fmt.Errorf("failed to push to remote: %w", err)
		}
		if attempt >= r.opts.PushAttempts {
			return nil, fmt.Errorf("failed to push to remote: still rejected after %d attempts (others keep pushing to %s): %w", attempt, r.opts.Branch, err)
		}
		if err := r.opts.Sleep(ctx, backoff); err != nil {
			return nil, fmt.Errorf("failed to push to remote: %w", err)
		}
		backoff *= 2
	}
}

// pushOnce fetches, applies outcomes on the remote head, adds notes on the
// remote's notes, and pushes both once. On a failed push the branch is
// reset to what the remote has.
func (r *Repo) pushOnce(ctx context.Context, outcomes []rollout.WriteCommit, notes []pendingNote) (map[string]result, error) {
	head, tip, err := r.fetchTip(ctx)
	if err != nil {
		return nil, err
	}
	res := map[string]result{}
	for _, o := range outcomes {
		w, next, err := r.apply(ctx, tip, o)
		res[o.Key()] = result{w, err}
		if next != nil {
			tip = next
		}
	}
	var specs []config.RefSpec
	if tip.Hash != head {
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.branchRef(), tip.Hash)); err != nil {
			return nil, fmt.Errorf("advance %s: %w", r.opts.Branch, err)
		}
		specs = append(specs, config.RefSpec(r.branchRef()+":"+r.branchRef()))
	}
	notesHash, err := r.buildNotes(notes)
	if err != nil {
		return nil, err
	}
	if !notesHash.IsZero() {
		specs = append(specs, config.RefSpec(NotesRef+":"+NotesRef))
	}
	if len(specs) == 0 {
		return res, nil
	}
	if err := r.push(ctx, specs); err != nil {
		// The branch says only what the remote has.
		if rerr := r.repo.Storer.SetReference(plumbing.NewHashReference(r.branchRef(), head)); rerr != nil {
			return nil, fmt.Errorf("reset %s after a failed push: %w", r.opts.Branch, rerr)
		}
		return nil, err
	}
	if err := r.afterPush(tip.Hash, notesHash); err != nil {
		return nil, err
	}
	return res, nil
}

// fetchTip fetches and returns the remote head and its commit.
func (r *Repo) fetchTip(ctx context.Context) (plumbing.Hash, *object.Commit, error) {
	if _, _, err := r.fetch(ctx); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	head, err := r.head()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	tip, err := r.repo.CommitObject(head)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("read commit %s: %w", head, err)
	}
	return head, tip, nil
}

// afterPush records what the remote now has, as a fetch would.
func (r *Repo) afterPush(branch, notes plumbing.Hash) error {
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.remoteRef(), branch)); err != nil {
		return fmt.Errorf("record pushed head: %w", err)
	}
	if !notes.IsZero() {
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(remoteNotesRef, notes)); err != nil {
			return fmt.Errorf("record pushed notes: %w", err)
		}
	}
	return nil
}

func (r *Repo) push(ctx context.Context, specs []config.RefSpec) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	err := r.repo.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RemoteURL:  r.opts.URL,
		RefSpecs:   specs,
		Auth:       r.auth,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// isNonFastForward recognises a rejected push by its text: go-git has no
// typed error for it, and servers report it in their own words.
func isNonFastForward(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, git.ErrNonFastForwardUpdate) || errors.Is(err, git.ErrForceNeeded) {
		return true
	}
	s := err.Error()
	for _, t := range []string{"non-fast-forward", "failed to update ref", "fetch first", "cannot lock ref", "stale info"} {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// apply writes o on top of tip and returns the new commit (nil when nothing
// is written).
func (r *Repo) apply(ctx context.Context, tip *object.Commit, o rollout.WriteCommit) (Written, *object.Commit, error) {
	src, ok, err := fileAt(tip, o.File)
	if err != nil {
		return Written{}, nil, err
	}
	if !ok {
		return Written{}, nil, fmt.Errorf("%s for %s: %s is no longer in %s: %w", o.Kind, o.Key(), o.File, commitid.Short(tip.Hash.String()), ErrSuperseded)
	}
	cur, parsed := parseServe(src, o.File, o.Model, o.Stage)
	if !parsed {
		return Written{}, nil, fmt.Errorf("%s for %s: %s does not parse at %s; fix it and the outcome is written on the next push: %w", o.Kind, o.Key(), o.File, commitid.Short(tip.Hash.String()), ErrSuperseded)
	}
	experiment := hasBlock(src, o.File, o.Model, o.Stage, "experiment")
	done := Written{SHA: tip.Hash.String(), AlreadyDone: true}
	switch o.Kind {
	case ActionConclude:
		if !experiment {
			return done, nil, nil
		}
	case ActionPromote:
		if cur == o.To && !experiment {
			return done, nil, nil
		}
		if cur != o.From && cur != o.To {
			return Written{}, nil, superseded(o, cur)
		}
	default:
		if cur == o.To {
			return done, nil, nil
		}
		if cur != o.From {
			return Written{}, nil, superseded(o, cur)
		}
	}

	var rev *revertInfo
	if o.Kind == ActionRollback {
		rev, err = r.revertTarget(ctx, tip, o)
		if errors.Is(err, ErrNoServeChange) {
			rev, err = nil, nil // history too short to know: set serve back by an edit
		}
		if err != nil {
			return Written{}, nil, err
		}
		if rev != nil && rev.clean {
			tree, ok, why, err := r.inverseTree(tip, rev.sha, o)
			if err != nil {
				return Written{}, nil, err
			}
			if ok {
				c, err := r.commitOn(tip, tree, message(o, rev))
				return Written{SHA: c.Hash.String(), Revert: true}, c, err
			}
			rev.clean, rev.why = false, why
		}
	}

	edited := src
	var settled []string
	if o.Kind != ActionConclude {
		if edited, err = spec.SetServe(edited, o.File, o.Model, o.Stage, o.To); err != nil {
			return Written{}, nil, fmt.Errorf("%s for %s: %w", o.Kind, o.Key(), err)
		}
		// The head must validate: settings that naming To as serve makes
		// invalid go with the edit (DESIGN.md, invariant 8).
		if edited, settled, err = spec.SettleServe(edited, o.File, o.Model, o.Stage, o.To); err != nil {
			return Written{}, nil, fmt.Errorf("%s for %s: %w", o.Kind, o.Key(), err)
		}
	}
	if (o.Kind == ActionPromote || o.Kind == ActionConclude) && experiment {
		if edited, err = spec.RemoveBlock(edited, o.File, o.Model, o.Stage, "experiment"); err != nil {
			return Written{}, nil, fmt.Errorf("%s for %s: %w", o.Kind, o.Key(), err)
		}
	}
	blob, err := r.writeBlob(edited)
	if err != nil {
		return Written{}, nil, err
	}
	mode, err := fileMode(tip, o.File)
	if err != nil {
		return Written{}, nil, err
	}
	tree, err := r.rewriteTree(tip.TreeHash, map[string]treeChange{o.File: {hash: blob, mode: mode}})
	if err != nil {
		return Written{}, nil, err
	}
	c, err := r.commitOn(tip, tree, message(o, rev, settled...))
	return Written{SHA: c.Hash.String()}, c, err
}

func superseded(o rollout.WriteCommit, cur string) error {
	return fmt.Errorf("%s of %s from %s to %s: serve is now %q in Git: %w", o.Kind, o.Key(), o.From, o.To, cur, ErrSuperseded)
}

func fileMode(c *object.Commit, path string) (filemode.FileMode, error) {
	t, err := c.Tree()
	if err != nil {
		return 0, fmt.Errorf("read tree of %s: %w", c.Hash, err)
	}
	e, err := t.FindEntry(path)
	if err != nil {
		return filemode.Regular, nil //nolint:nilerr // a new file
	}
	return e.Mode, nil
}

func (r *Repo) commitOn(tip *object.Commit, tree plumbing.Hash, msg string) (*object.Commit, error) {
	h, err := r.writeCommit(tree, []plumbing.Hash{tip.Hash}, msg)
	if err != nil {
		return nil, err
	}
	return r.repo.CommitObject(h)
}

// revertTarget finds the commit a rollback undoes. clean starts true when
// that commit set serve from To to From, so a true revert is worth trying.
func (r *Repo) revertTarget(ctx context.Context, tip *object.Commit, o rollout.WriteCommit) (*revertInfo, error) {
	var target *object.Commit
	if o.RevertsCommit != "" {
		h, err := r.repo.ResolveRevision(plumbing.Revision(o.RevertsCommit))
		if err != nil {
			return nil, fmt.Errorf("rollback of %s: commit %s to revert: %w", o.Key(), o.RevertsCommit, err)
		}
		if target, err = r.repo.CommitObject(*h); err != nil {
			return nil, fmt.Errorf("rollback of %s: read commit %s: %w", o.Key(), h, err)
		}
	} else {
		var err error
		if target, err = r.lastServeChange(ctx, tip, o.File, o.Model, o.Stage); err != nil {
			return nil, fmt.Errorf("rollback of %s: find the commit that set serve: %w", o.Key(), err)
		}
	}
	info := &revertInfo{sha: target.Hash.String(), title: title(target.Message), clean: true}
	if len(target.ParentHashes) == 0 {
		info.clean, info.why = false, "it is the first commit"
	}
	return info, nil
}

// inverseTree computes tip's tree with the change of commit sha undone,
// against its first parent. ok is false (with why) when some file it
// touched has changed since, or the result would not serve o.To.
func (r *Repo) inverseTree(tip *object.Commit, sha string, o rollout.WriteCommit) (plumbing.Hash, bool, string, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read commit %s: %w", sha, err)
	}
	parent, err := c.Parent(0)
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read parent of %s: %w", sha, err)
	}
	from, err := parent.Tree()
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read tree of %s: %w", parent.Hash, err)
	}
	to, err := c.Tree()
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read tree of %s: %w", sha, err)
	}
	tipTree, err := tip.Tree()
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read tree of %s: %w", tip.Hash, err)
	}
	diff, err := object.DiffTree(from, to)
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("diff %s against its parent: %w", sha, err)
	}
	changes := map[string]treeChange{}
	for _, ch := range diff {
		path := ch.To.Name
		if path == "" {
			path = ch.From.Name
		}
		now := plumbing.ZeroHash
		if e, err := tipTree.FindEntry(path); err == nil {
			now = e.Hash
		}
		if now != ch.To.TreeEntry.Hash {
			return plumbing.ZeroHash, false, path + " changed since", nil
		}
		if ch.From.Name == "" {
			changes[path] = treeChange{delete: true}
		} else {
			changes[path] = treeChange{hash: ch.From.TreeEntry.Hash, mode: ch.From.TreeEntry.Mode}
		}
	}
	if _, ok := changes[o.File]; !ok {
		return plumbing.ZeroHash, false, "it did not change " + o.File, nil
	}
	tree, err := r.rewriteTree(tip.TreeHash, changes)
	if err != nil {
		return plumbing.ZeroHash, false, "", err
	}
	ch := changes[o.File]
	if ch.delete {
		return plumbing.ZeroHash, false, "it created " + o.File, nil
	}
	blob, err := r.repo.BlobObject(ch.hash)
	if err != nil {
		return plumbing.ZeroHash, false, "", fmt.Errorf("read %s at %s: %w", o.File, parent.Hash, err)
	}
	content, err := readBlob(blob)
	if err != nil {
		return plumbing.ZeroHash, false, "", err
	}
	if v, _ := parseServe(content, o.File, o.Model, o.Stage); v != o.To {
		return plumbing.ZeroHash, false, fmt.Sprintf("reverting it would serve %q, not %q", v, o.To), nil
	}
	if _, settle, err := spec.SettleServe(content, o.File, o.Model, o.Stage, o.To); err == nil && len(settle) > 0 {
		return plumbing.ZeroHash, false, fmt.Sprintf("reverting it would leave roll_through or the shadow naming %s, the version it serves", o.To), nil
	}
	return tree, true, "", nil
}
