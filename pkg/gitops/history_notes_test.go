package gitops

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/notes"
)

// notedSHAs is "sha:note|note" per commit, sorted (commits made within one
// second have no order by time).
func notedSHAs(t *testing.T, got []notes.Noted) []string {
	t.Helper()
	var out []string
	for _, c := range got {
		var ns []string
		for _, n := range c.Notes {
			ns = append(ns, string(n))
		}
		if c.Committed.IsZero() {
			t.Errorf("commit %s without its time", c.SHA)
		}
		out = append(out, c.SHA+":"+strings.Join(ns, "|"))
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func TestHistoryNotes(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	note := func(sha, v string) {
		srv.Git("specs", "notes", "--ref", "switchyard", "append", "-m", v, sha)
	}

	// Before any note: nothing, and no walk needed.
	initial := mustFetch(t, r)
	if got, err := r.HistoryNotes(ctx, initial, 0); err != nil || len(got) != 0 {
		t.Fatalf("no notes: %v, %v", got, err)
	}

	// A direct commit, then a pull request merged with a merge commit.
	direct := promote(t, srv)
	merge := srv.MergeAs("specs", "pr-1", "Merge pull request #1", map[string]string{"README.md": "pr 1\n"})
	prHead := strings.TrimSpace(srv.Git("specs", "rev-parse", merge+"^2"))
	note(initial, `{"n":"initial"}`)
	note(direct, `{"n":"direct"}`)
	note(prHead, `{"n":"pr head"}`)
	note(prHead, `{"n":"pr head again"}`)
	note(merge, `{"n":"merge"}`)
	// A branch never merged: its notes are in no head's history here.
	abandoned := strings.TrimSpace(srv.Git("specs", "commit-tree", initial+"^{tree}", "-p", initial, "-m", "an abandoned pull request"))
	note(abandoned, `{"n":"abandoned"}`)
	if got := mustFetch(t, r); got != merge {
		t.Fatalf("fetched %s, want the merge %s", got, merge)
	}

	all := sorted(initial+`:{"n":"initial"}`, direct+`:{"n":"direct"}`,
		prHead+`:{"n":"pr head"}|{"n":"pr head again"}`, merge+`:{"n":"merge"}`)
	cases := []struct {
		name string
		head string
		want []string
	}{
		{"the merge: its branch, the merge and everything before", merge, all},
		{"the pull request's head: its own and the base branch's", prHead, sorted(
			initial+`:{"n":"initial"}`, direct+`:{"n":"direct"}`, prHead+`:{"n":"pr head"}|{"n":"pr head again"}`)},
		{"a single commit", direct, sorted(initial+`:{"n":"initial"}`, direct+`:{"n":"direct"}`)},
		{"a root commit", initial, []string{initial + `:{"n":"initial"}`}},
	}
	for _, c := range cases {
		got, err := r.HistoryNotes(ctx, c.head, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := notedSHAs(t, got); strings.Join(g, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, g, c.want)
		}
	}

	// The limit keeps the newest commits: the head first.
	got, err := r.HistoryNotes(ctx, merge, 1)
	if err != nil || len(got) != 1 || got[0].SHA != merge {
		t.Fatalf("limit 1: %+v, %v", got, err)
	}
}
