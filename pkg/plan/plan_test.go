package plan_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/plan"
	"github.com/switchyard-dev/switchyard/pkg/policy"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func loadTree(t *testing.T, root string) *spec.Tree {
	t.Helper()
	tree, diags := spec.Load(os.DirFS(root), "rollouts")
	if diag.HasErrors(diags) {
		var b bytes.Buffer
		diag.WriteText(&b, diags, tree.Sources)
		t.Fatalf("%s does not load:\n%s", root, b.String())
	}
	return tree
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestDiff(t *testing.T) {
	base, head := loadTree(t, "testdata/base"), loadTree(t, "testdata/head")
	got := plan.Diff(base, head)
	want := []struct {
		key      string
		kind     plan.Kind
		from, to string
		changed  int
	}{
		{"churn/staging", plan.Remove, "c3", "", 1},
		{"fraud/production", plan.Update, "v6", "v7", 3}, // serve, versions, rollout, checks
		{"fraud/staging", plan.Update, "v7", "v8", 3},
		{"rank/production", plan.Update, "r1", "r1", 1},
		{"search/production", plan.Add, "", "s1", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.Key() != w.key || c.Kind != w.kind || c.From != w.from || c.To != w.to {
			t.Errorf("%d: got %s %s %s→%s, want %s %s %s→%s", i, c.Kind, c.Key(), c.From, c.To, w.kind, w.key, w.from, w.to)
		}
	}
	if pc := plan.PolicyChanges(got); len(pc) != 3 {
		t.Errorf("policy changes: got %+v, want fraud/production, fraud/staging and search/production", pc)
	}
	if d := plan.Diff(base, base); len(d) != 0 {
		t.Errorf("a tree against itself: got %+v", d)
	}
	// A first pull request: the base has no specs.
	added := plan.Diff(nil, head)
	if len(added) != len(head.Models) {
		t.Fatalf("from nothing: got %d changes, want %d", len(added), len(head.Models))
	}
	for _, c := range added {
		if c.Kind != plan.Add || c.From != "" || !c.ServeChanged() {
			t.Errorf("from nothing: got %+v", c)
		}
	}
	if removed := plan.Diff(base, nil); len(removed) != len(base.Models) || removed[0].Kind != plan.Remove || removed[0].ServeChanged() {
		t.Errorf("to nothing: got %+v", removed)
	}
}

func TestPlanGoldens(t *testing.T) {
	ctx := context.Background()
	pols, err := policy.Load(ctx, os.DirFS("../.."), "policies")
	if err != nil {
		t.Fatal(err)
	}
	base, head := loadTree(t, "testdata/base"), loadTree(t, "testdata/head")
	p, err := plan.Make(ctx, base, head, nil, plan.Options{
		Policies: pols, Context: policy.Context{Event: "pull_request", Now: now},
		Base: "main", Head: "feature",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Valid {
		t.Errorf("plan is valid, want blocked by the validation and ab_auto_promote denials")
	}
	for _, f := range []struct{ format, file string }{
		{plan.FormatText, "plan.txt"}, {plan.FormatJSON, "plan.json"}, {plan.FormatMarkdown, "plan.md"},
	} {
		var b bytes.Buffer
		if err := plan.Render(&b, p, f.format); err != nil {
			t.Fatal(err)
		}
		golden(t, f.file, b.Bytes())
	}
}

func TestPlanEvidenceUnblocks(t *testing.T) {
	ctx := context.Background()
	pols, err := policy.Load(ctx, os.DirFS("../.."), "policies")
	if err != nil {
		t.Fatal(err)
	}
	base, head := loadTree(t, "testdata/base"), loadTree(t, "testdata/head")
	p, err := plan.Make(ctx, base, head, nil, plan.Options{
		Policies: pols, Context: policy.Context{Now: now},
		Evidence: map[string]any{"fraud/staging/v7": map[string]any{"validation": map[string]any{"passed": true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		for _, d := range c.Findings {
			if d.Rule == "validation_evidence" {
				t.Errorf("validation finding despite passing evidence: %+v", d)
			}
		}
	}
}

func TestEmptyPlan(t *testing.T) {
	base := loadTree(t, "testdata/base")
	p, err := plan.Make(context.Background(), base, base, nil, plan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plan.RenderText(&b, p); err != nil {
		t.Fatal(err)
	}
	want := "No changes: merging changes no model.\n\nPlan: 0 to add, 0 to change, 0 to remove. Valid (0 errors, 0 warnings).\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if err := plan.Render(&b, p, "yaml"); err == nil {
		t.Error("Render accepted format yaml")
	}
}
