package action

import (
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// labelPolicy denies with every label the policies see, so that a test
// reads them in the Action's output.
const labelPolicy = `package switchyard

deny contains sprintf("label %s", [l]) if {
	some l in input.context.labels
}
`

// The reconciler's own rollback pull request is judged in review with the
// label switchyard:rollback, as the reconciler judges it once merged;
// the same pull request changed by a person is judged without it, and a
// warning says why.
func TestPullRequestOfTheReconciler(t *testing.T) {
	for _, tc := range []struct {
		name          string
		edited, merge bool
	}{
		{"head", false, false},
		{"merge ref", false, true},
		{"head, edited", true, false},
		{"merge ref, edited", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model := fraudModel(t, 0)
			r := newTestRepo(t)
			files := fixture(t, model.URL)
			files["policies/labels.rego"] = ptr(labelPolicy)
			r.commit("Add the fraud and search models", files)
			v7 := *files["rollouts/fraud.hcl"]
			v8 := strings.Replace(v7, `serve  = "v7"`, `serve  = "v8"`, 1)
			base := r.commit("Promote fraud v8 to production", map[string]*string{"rollouts/fraud.hcl": &v8})
			r.branch("main", base)
			msg := `Revert "Promote fraud v8 to production"

This reverts commit ` + base + `.

fraud/production rolled back from v8 to v7: check "errors" failed.

Switchyard-Action: rollback
Switchyard-Model: fraud/production
Switchyard-Reverts: ` + base + "\n"
			change := map[string]*string{"rollouts/fraud.hcl": &v7}
			if tc.edited {
				change["README.md"] = ptr("an unrelated change\n")
			}
			head := r.commit(msg, change)
			if tc.merge {
				// actions/checkout's refs/pull/N/merge: base and head merged.
				r.checkout(base)
				r.commit("placeholder", change) // the merge's tree
				mergeRef(t, r, base, head)
			} else {
				r.checkout(head)
			}
			res := runAction(t, baseConfig(t, newFakeGitHub(t), r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head)))
			labelled := strings.Contains(res.stdout, "label switchyard:rollback")
			if labelled == tc.edited {
				t.Fatalf("labelled = %v, want %v:\n%s", labelled, !tc.edited, res.stdout)
			}
			warned := strings.Contains(res.stdout, "::warning title=switchyard::") &&
				strings.Contains(res.stdout, "is judged as a person's change, without the reconciler's label: it carries Switchyard-Action: rollback") &&
				strings.Contains(res.stdout, "README.md")
			if warned != tc.edited {
				t.Fatalf("warned = %v, want %v:\n%s", warned, tc.edited, res.stdout)
			}
		})
	}
}

// mergeRef replaces HEAD, a commit on base with the merge's tree, by the
// merge commit of base and head with that tree, detached.
func mergeRef(t *testing.T, r *testRepo, base, head string) {
	t.Helper()
	ref, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	sig := object.Signature{Name: "GitHub", Email: "noreply@github.com", When: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)}
	m := &object.Commit{Author: sig, Committer: sig, Message: "Merge " + head + " into " + base + "\n", TreeHash: c.TreeHash,
		ParentHashes: []plumbing.Hash{plumbing.NewHash(base), plumbing.NewHash(head)}}
	obj := r.repo.Storer.NewEncodedObject()
	if err := m.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := r.repo.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Hash: h, Force: true}); err != nil {
		t.Fatal(err)
	}
}
