package policy_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/policy"
)

func load(t *testing.T, files map[string]string, opts ...policy.Option) (*policy.Set, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return policy.Load(context.Background(), fsys, "policies", opts...)
}

func TestLoadReportsFileAndLine(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  diag.Diagnostic // File, Line and a Detail substring
	}{
		{
			name: "syntax",
			files: map[string]string{
				"policies/ok.rego":  "package switchyard\n\ndeny contains \"x\" if false\n",
				"policies/bad.rego": "package switchyard\n\ndeny contains msg if {\n\tmsg := \n}\n",
			},
			want: diag.Diagnostic{File: "policies/bad.rego", Line: 5, Detail: "unexpected"},
		},
		{
			name: "unsafe variable",
			files: map[string]string{
				"policies/unsafe.rego": "package switchyard\n\ndeny contains msg if {\n\tx == 1\n}\n",
			},
			want: diag.Diagnostic{File: "policies/unsafe.rego", Line: 3, Detail: "unsafe"},
		},
		{
			name: "wrong package",
			files: map[string]string{
				"policies/other.rego": "package other\n\ndeny contains \"x\" if true\n",
			},
			want: diag.Diagnostic{File: "policies/other.rego", Line: 1, Detail: "package switchyard"},
		},
		{
			name: "binary",
			files: map[string]string{
				"policies/bin.rego": "package switchyard\n\xff\xfe\x00",
			},
			want: diag.Diagnostic{File: "policies/bin.rego", Detail: "binary"},
		},
		{
			name: "too large",
			files: map[string]string{
				"policies/big.rego": "package switchyard\n\n# " + strings.Repeat("x", policy.MaxFileSize) + "\n",
			},
			want: diag.Diagnostic{File: "policies/big.rego", Detail: "at most"},
		},
		{
			name: "deeply nested",
			files: map[string]string{
				"policies/deep.rego": "package switchyard\n\nx := " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			},
			want: diag.Diagnostic{File: "policies/deep.rego", Line: 3, Detail: "recursion"},
		},
		{
			name: "rego v0 syntax",
			files: map[string]string{
				"policies/v0.rego": "package switchyard\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n",
			},
			want: diag.Diagnostic{File: "policies/v0.rego", Line: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.files)
			var le *policy.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load: got %v, want a *LoadError", err)
			}
			d := le.Diagnostics[0]
			if d.File != tt.want.File || d.Line != tt.want.Line || !strings.Contains(d.Detail, tt.want.Detail) {
				t.Errorf("got %+v, want file %s line %d detail containing %q", d, tt.want.File, tt.want.Line, tt.want.Detail)
			}
			if d.Severity != diag.Error || d.Source != diag.SourcePolicy {
				t.Errorf("got severity %q source %q, want error/policy", d.Severity, d.Source)
			}
			if !strings.Contains(err.Error(), tt.want.File) {
				t.Errorf("error text %q does not name %s", err, tt.want.File)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, err := policy.Load(context.Background(), fstest.MapFS{}, "policies")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
}

func TestLoadSkipsTests(t *testing.T) {
	s, err := load(t, map[string]string{
		"policies/a.rego":      "package switchyard\n\nwarn contains \"a\" if true\n",
		"policies/a_test.rego": "package switchyard_test\n\ntest_x if false\n",
		"policies/README.md":   "not rego",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Files(); !reflect.DeepEqual(got, []string{"policies/a.rego"}) {
		t.Errorf("Files() = %v", got)
	}
}

func TestEvaluateFindingShapes(t *testing.T) {
	s, err := load(t, map[string]string{
		"policies/strings.rego": `package switchyard

deny contains "plain string" if true
`,
		"policies/objects.rego": `package switchyard

deny contains {"msg": "obj", "model": "fraud", "stage": "production", "field": "serve", "rule": "r1"} if true

warn contains {"msg": "keyed", "model": "fraud/staging"} if true

warn contains {"msg": sprintf("%d models", [count(input.models)])} if true
`,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Evaluate(context.Background(), policy.Input{Models: []map[string]any{{"name": "a"}, {"name": "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []policy.Finding{
		{Severity: diag.Error, Msg: "plain string", File: "policies/strings.rego"},
		{Severity: diag.Error, Msg: "obj", Model: "fraud", Stage: "production", Field: "serve", Rule: "r1", File: "policies/objects.rego"},
		{Severity: diag.Warning, Msg: "2 models", File: "policies/objects.rego"},
		{Severity: diag.Warning, Msg: "keyed", Model: "fraud", Stage: "staging", File: "policies/objects.rego"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestEvaluateTime(t *testing.T) {
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	s, err := load(t, map[string]string{
		"policies/freeze.rego": `package switchyard

deny contains sprintf("frozen at %s", [input.context.now]) if {
	time.weekday(time.now_ns()) == "Thursday"
}
`,
	}, policy.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.Evaluate(ctx, policy.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Msg != "frozen at 2026-11-26T10:00:00Z" {
		t.Errorf("with the clock (a Thursday): got %+v", got)
	}
	got, err = s.Evaluate(ctx, policy.Input{Context: policy.Context{Now: clock.Add(24 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("with context.now a Friday: got %+v, want none", got)
	}
}

func TestEvaluateRejectsBadRuleType(t *testing.T) {
	s, err := load(t, map[string]string{"policies/n.rego": "package switchyard\n\ndeny := 3\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Evaluate(context.Background(), policy.Input{}); err == nil || !strings.Contains(err.Error(), "policies/n.rego") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

type fakeLocator map[string]hcl.Range

func (f fakeLocator) FieldRange(model, field string) (hcl.Range, bool) {
	r, ok := f[model+"#"+field]
	return r, ok
}

func rng(line, col int) hcl.Range {
	return hcl.Range{Filename: "rollouts/fraud.hcl", Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: col + 5}}
}

func TestDiagnosticsPositions(t *testing.T) {
	loc := fakeLocator{
		"fraud/production#":              rng(1, 1),
		"fraud/production#rollout":       rng(10, 3),
		"fraud/production#rollout.steps": rng(12, 5),
	}
	fs := []policy.Finding{
		{Severity: diag.Error, Msg: "field", Model: "fraud", Stage: "production", Field: "rollout.steps", Rule: "canary_first_step", File: "policies/rollout.rego"},
		{Severity: diag.Error, Msg: "unwritten field", Model: "fraud", Stage: "production", Field: "rollout.bake", File: "policies/rollout.rego"},
		{Severity: diag.Warning, Msg: "model only", Model: "fraud", Stage: "production", File: "policies/x.rego"},
		{Severity: diag.Warning, Msg: "unknown model", Model: "churn", Stage: "production", Field: "serve", File: "policies/x.rego"},
		{Severity: diag.Error, Msg: "global", File: "policies/x.rego"},
	}
	got := policy.Diagnostics(fs, loc)
	want := []struct {
		line, col int
		rule      string
	}{{12, 5, "canary_first_step"}, {10, 3, "rollout"}, {1, 1, "x"}, {0, 0, "x"}, {0, 0, "x"}}
	for i, w := range want {
		d := got[i]
		if d.Line != w.line || d.Column != w.col || d.Rule != w.rule || d.Source != diag.SourcePolicy || d.Summary != fs[i].Msg {
			t.Errorf("%d: got %+v, want line %d col %d rule %s", i, d, w.line, w.col, w.rule)
		}
		if (w.line != 0) != (d.File == "rollouts/fraud.hcl") {
			t.Errorf("%d: file %q", i, d.File)
		}
	}
	if got := policy.Diagnostics(fs[:1], nil); got[0].Line != 0 {
		t.Errorf("nil locator: got line %d", got[0].Line)
	}
}

func TestLoadDefaultPolicies(t *testing.T) {
	s, err := policy.Load(context.Background(), os.DirFS("../.."), "policies")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files()) < 4 {
		t.Errorf("loaded %v", s.Files())
	}
}

func TestRulesMayReferToDenyAndWarn(t *testing.T) {
	s, err := load(t, map[string]string{
		"policies/a.rego": "package switchyard\n\ndeny contains \"a\" if true\n",
		"policies/b.rego": "package switchyard\n\nwarn contains sprintf(\"%d denials\", [count(deny)]) if true\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Evaluate(context.Background(), policy.Input{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Msg != "1 denials" || got[1].File != "policies/b.rego" {
		t.Errorf("got %+v", got)
	}
}

func TestEvaluateConcurrently(t *testing.T) {
	s, err := policy.Load(context.Background(), os.DirFS("../.."), "policies")
	if err != nil {
		t.Fatal(err)
	}
	in := policy.Input{Models: []map[string]any{{
		"name": "fraud", "stage": "production", "versions": map[string]any{}, "checks": map[string]any{},
		"rollout": map[string]any{"strategy": "canary", "steps": []any{50.0}, "bake_seconds": 60.0, "interval_seconds": 10.0},
	}}}
	done := make(chan []policy.Finding)
	for i := 0; i < 4; i++ {
		go func() {
			fs, err := s.Evaluate(context.Background(), in)
			if err != nil {
				t.Error(err)
			}
			done <- fs
		}()
	}
	var first []policy.Finding
	for i := 0; i < 4; i++ {
		fs := <-done
		if i == 0 {
			first = fs
		} else if !reflect.DeepEqual(fs, first) {
			t.Errorf("evaluations differ:\n%+v\n%+v", fs, first)
		}
	}
	if len(first) != 2 {
		t.Errorf("got %+v, want canary_first_step and error_rate_check", first)
	}
}
