package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

func loadFraud(t testing.TB) *Tree {
	t.Helper()
	tree, diags := LoadDir("../../testdata/specs/fraud", "rollouts")
	if diag.HasErrors(diags) {
		t.Fatalf("diagnostics: %+v", diags)
	}
	return tree
}

// TestPolicyJSONGolden pins the policy input shape of SPEC.md §2.
func TestPolicyJSONGolden(t *testing.T) {
	tree := loadFraud(t)
	got, err := json.MarshalIndent(map[string]any{
		"models":  tree.PolicyModels(),
		"routers": tree.PolicyRouters(),
		"metrics": tree.PolicyMetrics(),
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "policy", "fraud.json")
	if *update {
		_ = os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("policy JSON differs from %s (run go test -update):\n%s", golden, got)
	}
}

func TestDecodedValues(t *testing.T) {
	tree := loadFraud(t)
	m := tree.Model("fraud", "production")
	if m == nil || m.File != "rollouts/fraud.hcl" {
		t.Fatalf("model: %+v", m)
	}
	r := m.Rollout
	if r.Strategy != "canary" || len(r.Steps) != 3 || r.Steps[1] != 25 || r.Bake.Seconds() != 60 || r.Interval.Seconds() != 10 || r.Fallback != "rules" {
		t.Errorf("rollout: %+v", r)
	}
	if len(m.Checks) != 3 || m.Checks[0].Name != "errors" || m.Checks[0].Source != "router" || m.Checks[1].MinRequests != DefaultMinRequests || *m.Checks[1].MaxRatio != 1.2 {
		t.Errorf("checks: %+v", m.Checks)
	}
	if got := m.VersionOrder; len(got) != 3 || got[0] != "v6" || got[2] != "rules" {
		t.Errorf("version order %v", got)
	}
	if !m.Versions["rules"].Heuristic {
		t.Error("rules is a heuristic")
	}
	recs := tree.Model("recs", "production").Experiment
	if recs.VariantOrder[0] != "v4" || recs.VariantOrder[1] != "v3" || recs.Variants["v4"] != 50 || !recs.AutoPromote || recs.ExploreFloor != DefaultExploreFloor {
		t.Errorf("experiment: %+v", recs)
	}
	search := tree.Model("search", "production").Rollout
	if search.PreviewHeader != "x-preview" || search.KeepPrevious.Minutes() != 10 || search.RollThrough != "green" {
		t.Errorf("blue_green: %+v", search)
	}
	geo := tree.Model("geo", "production").Rollout
	if geo.PreviewHeader != "" || geo.KeepPrevious != 0 || geo.OnFailure != DefaultOnFailure {
		t.Errorf("all_at_once defaults: %+v", geo)
	}
	sh := tree.Model("fraud", "staging").Shadow
	if sh.Version != "v7" || sh.Compare != "json" || sh.MinSamples != 500 {
		t.Errorf("shadow: %+v", sh)
	}
	if v := tree.Model("fraud", "staging").Versions["v8"].Validation; v == nil || *v.Min != 0.92 || v.Output != "/score" {
		t.Errorf("validation: %+v", v)
	}
	if len(tree.Sources) != 4 {
		t.Errorf("sources: %d files", len(tree.Sources))
	}
}

func TestDefaultsWhenSilent(t *testing.T) {
	tree, diags := LoadFiles(map[string][]byte{"rollouts/a.hcl": []byte(okRouter + `
model "m" "s" {
  router = "edge"
  path   = "/m"
  serve  = "a"
  version "a" { url = "http://127.0.0.1:1" }
  version "b" { url = "http://127.0.0.1:2" }
  rollout { strategy = "blue_green" }
  check "e" {
    metric = "error_rate"
    max    = 0.1
  }
  shadow { version = "b" }
}
model "n" "s" {
  router = "edge"
  path   = "/n"
  serve  = "a"
  version "a" { url = "http://127.0.0.1:1" }
  version "b" { url = "http://127.0.0.1:2" }
  experiment { variants = { a = 50, b = 50 } }
}
`)}, "")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %+v", diags)
	}
	m := tree.Model("m", "s")
	if r := m.Rollout; r.Bake != DefaultBake || r.Interval != DefaultInterval || r.PreviewHeader != DefaultPreviewHeader || r.KeepPrevious != DefaultKeepPrevious || r.OnFailure != "rollback" {
		t.Errorf("rollout defaults: %+v", r)
	}
	if c := m.Checks[0]; c.Source != "router" || c.MinRequests != DefaultMinRequests {
		t.Errorf("check defaults: %+v", c)
	}
	if s := m.Shadow; s.Percent != 100 || s.Compare != "exact" || s.MinAgreement != 0.99 || s.MinSamples != 100 {
		t.Errorf("shadow defaults: %+v", s)
	}
	e := tree.Model("n", "s").Experiment
	if e.Method != "ab" || e.Alpha != 0.05 || e.MinSamples != 100 || e.ExploreFloor != 0.05 || e.PromoteWhen != 0.95 || e.Reward != "feedback" {
		t.Errorf("experiment defaults: %+v", e)
	}
	if tree.Model("n", "s").Rollout != nil {
		t.Error("no rollout block: Rollout is nil")
	}
	if _, ok := tree.Model("n", "s").PolicyJSON()["rollout"]; ok {
		t.Error("no rollout block: no rollout in policy JSON")
	}
}

func TestFieldRange(t *testing.T) {
	tree := loadFraud(t)
	tests := []struct {
		model, field string
		line         int
		ok           bool
	}{
		{"fraud/production", "", 29, true},
		{"fraud/production", "serve", 32, true},
		{"fraud/production", "rollout", 41, true},
		{"fraud/production", "rollout.steps", 43, true},
		{"fraud/production", "rollout.steps.1", 43, true},
		{"fraud/production", "rollout.keep_previous", 41, true}, // unset: the rollout block
		{"fraud/production", "checks.errors.max", 53, true},
		{"fraud/production", "checks.nope.max", 29, true}, // unknown: the model block
		{"fraud/staging", "versions.v8.validation.dataset", 10, true},
		{"fraud/staging", "shadow.compare", 22, true},
		{"recs/production", "experiment.variants.v3", 11, true},
		{"fraud/production", "rollout.steps[2]", 43, true},
		{"fraud/production", `checks["errors"].max`, 53, true},
		{"nope/production", "serve", 0, false},
	}
	for _, tc := range tests {
		r, ok := tree.FieldRange(tc.model, tc.field)
		if ok != tc.ok || r.Start.Line != tc.line {
			t.Errorf("FieldRange(%q, %q) = line %d, %v; want %d, %v", tc.model, tc.field, r.Start.Line, ok, tc.line, tc.ok)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[string]string{"1m": "1m", "90s": "1m30s", "1h": "1h", "0s": "0s", "500ms": "500ms", "2h30m": "2h30m", "10s": "10s"} {
		d, _ := timeParse(in)
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s, want %s", in, got, want)
		}
	}
}

var timeParse = time.ParseDuration
