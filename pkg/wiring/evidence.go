package wiring

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// maxIntroduced bounds the commits whose notes are read for one head: a
// reconciler that falls this far behind judges by the newest of them.
const maxIntroduced = 1000

// headEvidence is the policy input's evidence for head judged against base
// (the tree of commit applied): the validation and shadow verdicts noted
// under refs/notes/switchyard on the commits head brings in over applied
// (with nothing applied yet, over head's first parent). Those are where
// review-time verdicts sit: on a merged pull request's head commit, which a
// merge commit brings in, on the merge or squashed commit itself, or on the
// commits of a fast-forward. Only verdicts on the versions the head changes
// count (in any stage of their model, as the policies read them); the
// latest of each kind per model/stage/version wins. No notes: nil.
func headEvidence(ctx context.Context, repo CommitReader, applied, head string, base, tree *spec.Tree) (map[string]any, error) {
	noted, err := repo.IntroducedNotes(ctx, applied, head, maxIntroduced)
	if err != nil {
		return nil, fmt.Errorf("reading the verdict notes of the commits %s brings in: %w", short(head), err)
	}
	if len(noted) == 0 {
		return nil, nil
	}
	var ev policy.Evidence
	for _, c := range noted {
		at := c.Committed.UTC().Format(time.RFC3339)
		for _, n := range c.Notes {
			ev.AddNote(c.SHA, at, n)
		}
	}
	changed := map[string]bool{} // "model/version"
	for _, c := range plan.Diff(base, tree) {
		for _, v := range plan.ChangedVersions(c, base, tree) {
			changed[c.Model+"/"+v] = true
		}
	}
	return ev.Input(func(key string) bool {
		parts := strings.Split(key, "/")
		return len(parts) == 3 && changed[parts[0]+"/"+parts[2]]
	}), nil
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
