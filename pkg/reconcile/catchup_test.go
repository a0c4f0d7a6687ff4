package reconcile

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// listingRepo is a fakeRepo that lists the commits between two of its
// commits, as gitops.Repo.FirstParentsBetween does.
type listingRepo struct{ *fakeRepo }

func (r listingRepo) FirstParentsBetween(ctx context.Context, from, to string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, j := slices.Index(r.commits, from), slices.Index(r.commits, to)
	if i < 0 || j <= i {
		return nil, nil
	}
	return slices.Clone(r.commits[i+1 : j]), nil
}

// stepByStep is a policy like staging_first: serving v3 needs v2 served
// by the commit in force; and a spec with "# broken" is invalid.
func stepByStep(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic) {
	if b, _ := fs.ReadFile(fsys, "rollouts/fraud.hcl"); strings.Contains(string(b), "# broken") {
		return nil, []diag.Diagnostic{{Severity: diag.Error, Summary: "broken"}}
	}
	tree, diags := spec.Load(fsys, "rollouts")
	if tree != nil && base != nil && tree.Models[0].Serve == "v3" && base.Models[0].Serve != "v2" && base.Models[0].Serve != "v3" {
		diags = append(diags, diag.Diagnostic{Severity: diag.Error, Summary: "v3 would serve, but v2 does not: serve v2 first"})
	}
	return tree, diags
}

func catchUpHarness(t *testing.T, repo Repo) *harness {
	h := newHarness(t)
	if repo == nil {
		repo = h.repo
	}
	// Fetches come from Trigger (a webhook), never from the poll.
	d, err := New(Config{PollInterval: time.Hour, PushBackoff: 5 * time.Second}, Deps{
		Repo: repo, Check: stepByStep, Routers: h.target, Measurer: h.measure, Store: h.store, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h
}

// TestTwoCommitsInOneFetchAreTakenInOrder: v2 and then v3 are pushed
// before the reconciler fetches. Judged against the commit in force (v1),
// the head is refused; taken one at a time, as they were pushed, one pass
// each, both pass: v2's rollout starts with v2's commit, then v3's with
// the head, and no head is ever reported rejected.
func TestTwoCommitsInOneFetchAreTakenInOrder(t *testing.T) {
	h := catchUpHarness(t, nil)
	h.d.deps.Repo = listingRepo{h.repo} // the harness's own repo, listing
	h.repo.commit("v1")
	h.run(1, time.Second)
	middle := h.repo.commit("v2")
	head := h.repo.commit("v3")
	h.d.Trigger()
	h.run(1, time.Second)
	st := h.d.Status()
	if st.Applied != middle || st.HeadError != "" || st.Models[0].To != "v2" {
		t.Fatalf("after one pass: applied %s, head error %q, rollout to %q; want %s (v2) in force, the head not judged yet",
			st.Applied, st.HeadError, st.Models[0].To, middle)
	}
	h.run(1, time.Second)
	st = h.d.Status()
	if st.Applied != head || st.HeadError != "" || st.Models[0].Serve != "v3" || st.Models[0].To != "v3" {
		t.Fatalf("after two passes: applied %s (head %s), head error %q, model %+v", st.Applied, head, st.HeadError, st.Models[0])
	}
	started := map[string]string{}
	for _, ev := range st.Events {
		if ev.Event == "rejected_head" {
			t.Errorf("a head was reported rejected: %+v", ev)
		}
		if ev.Event == "started" {
			started[ev.To] = ev.Commit
		}
	}
	if started["v2"] != middle || started["v3"] != head {
		t.Errorf("rollouts started %v, want v2 by %s and v3 by %s", started, middle, head)
	}
	if string(h.store.m[appliedKey]) != head {
		t.Errorf("the state file keeps %q as the commit in force, want %s", h.store.m[appliedKey], head)
	}
}

// TestCatchUpStopsAtARejectedCommit: the commit before the head is itself
// invalid, so nothing is taken and the head stays rejected against the
// commit in force, as before; a repository that cannot list commits
// leaves a rejected head rejected.
func TestCatchUpStopsAtARejectedCommit(t *testing.T) {
	for _, c := range []struct {
		name    string
		listing bool
		middle  string
	}{
		{"an invalid commit in between", true, "broken"},
		{"no listing", false, "v2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := catchUpHarness(t, nil)
			h.d.deps.Repo = h.repo
			if c.listing {
				h.d.deps.Repo = listingRepo{h.repo}
			}
			first := h.repo.commit("v1")
			h.run(1, time.Second)
			if c.middle == "broken" {
				h.repo.commitRaw(strings.Replace(specTmpl, "%s", "v2", 1) + "# broken\n")
			} else {
				h.repo.commit(c.middle)
			}
			head := h.repo.commit("v3")
			h.d.Trigger()
			h.run(1, time.Second)
			st := h.d.Status()
			if st.Applied != first || st.Head != head || !strings.Contains(st.HeadError, "not applied") {
				t.Errorf("applied %s, head %s, head error %q; want %s running and the head rejected", st.Applied, st.Head, st.HeadError, first)
			}
		})
	}
}
