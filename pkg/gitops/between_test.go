package gitops

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestFirstParentsBetween lists what a branch went through between two
// fetches: direct commits and a merge (once, as its merge commit), oldest
// first, without either end; nothing when the start is not an ancestor.
func TestFirstParentsBetween(t *testing.T) {
	srv, r, _ := setup(t)
	ctx := context.Background()
	initial := mustFetch(t, r)
	direct := promote(t, srv)
	merge := srv.MergeAs("specs", "pr-1", "Merge pull request #1", map[string]string{"README.md": "pr 1\n"})
	last := srv.CommitAs("specs", "docs", map[string]string{"README.md": "after\n"})
	if got := mustFetch(t, r); got != last {
		t.Fatalf("fetched %s, want %s", got, last)
	}
	for _, c := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"three commits on", initial, last, []string{direct, merge}},
		{"the next commit", merge, last, []string{}},
		{"the same commit", last, last, nil},
		{"not an ancestor", strings.Repeat("ab", 20), last, nil},
	} {
		got, err := r.FirstParentsBetween(ctx, c.from, c.to)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
