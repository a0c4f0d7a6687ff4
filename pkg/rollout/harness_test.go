package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// The fake clock: every tick names its time as seconds after t0.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func f(v float64) *float64 { return &v }

// baseModel serves v6 with an error-rate check; rollouts bake 30s with a
// 10s interval, so each stage takes three measurements.
func baseModel(strategy string) *spec.Model {
	return &spec.Model{
		Name: "fraud", Stage: "production", Router: "edge", Path: "/v1/fraud", Serve: "v6",
		Versions: map[string]*spec.Version{
			"v6":    {Name: "v6", URL: "http://127.0.0.1:9106"},
			"v7":    {Name: "v7", URL: "http://127.0.0.1:9107"},
			"v8":    {Name: "v8", URL: "http://127.0.0.1:9108"},
			"rules": {Name: "rules", URL: "http://127.0.0.1:9190", Heuristic: true},
		},
		Rollout: &spec.Rollout{
			Strategy: strategy, Steps: []float64{25, 50}, Bake: 30 * time.Second, Interval: 10 * time.Second,
			OnFailure: "rollback", PreviewHeader: "x-preview", KeepPrevious: time.Minute,
		},
		Checks: []*spec.Check{{Name: "errors", Metric: "error_rate", Source: "router", Max: f(0.01), MinRequests: 50}},
	}
}

func errs(rate float64, n int64) Observations {
	return Observations{Checks: map[string]analysis.Measurement{
		"errors": {Check: "errors", Value: rate, Requests: n, Baseline: 0.001, HasBaseline: true},
	}}
}

var (
	good  = errs(0.001, 1000)
	bad   = errs(0.2, 1000)
	quiet = errs(0, 10) // under min_requests: no data
	none  = Observations{}
)

// tick is one Step of a scenario. Zero-valued expectations are not checked
// except acts, which must match exactly ("" = no commit and no verdict).
type tick struct {
	at      int               // seconds after t0
	serve   string            // set the spec's serve (a new commit)
	edit    func(*spec.Model) // edit the spec (a new commit)
	obs     Observations      // measured over the window
	phase   Phase
	weights string // "v6:75 v7:25"
	acts    string // commits and verdicts, see summarize
	event   string // a substring some event must contain
	check   func(t *testing.T, st ModelState, rt traffic.Route, acts []Action)
}

// scenario runs ticks through Step with j's judges, checking every
// expectation and the route invariants at every tick.
type scenario struct {
	j      judges
	m      *spec.Model
	st     ModelState
	commit int
	// roundTrip serializes and restores the state between ticks.
	roundTrip bool
	// log holds every tick's outputs as JSON.
	log []string
}

// step runs one Step outside a script and returns its outputs.
func (sc *scenario) step(t *testing.T, sec int, obs Observations) (traffic.Route, []Action) {
	t.Helper()
	var rt traffic.Route
	var acts []Action
	sc.play(t, []tick{{at: sec, obs: obs, check: func(_ *testing.T, _ ModelState, r traffic.Route, a []Action) {
		rt, acts = r, a
	}, acts: "*"}})
	return rt, acts
}

func newScenario(m *spec.Model) *scenario { return &scenario{j: analysisJudges(), m: m} }

func (sc *scenario) play(t *testing.T, ticks []tick) {
	t.Helper()
	for i, tk := range ticks {
		if tk.serve != "" || tk.edit != nil {
			sc.commit++
			if tk.serve != "" {
				sc.m.Serve = tk.serve
			}
			if tk.edit != nil {
				tk.edit(sc.m)
			}
		}
		if sc.roundTrip {
			sc.st = jsonRoundTrip(t, sc.st)
		}
		before := jsonOf(t, sc.st)
		st, rt, acts := sc.j.step(sc.m, fmt.Sprintf("c%d", sc.commit), sc.st, tk.obs, at(tk.at))
		if after := jsonOf(t, sc.st); after != before {
			t.Fatalf("tick %d (t=%ds): Step modified its input state", i, tk.at)
		}
		// Idempotent: the same inputs give the same outputs.
		st2, rt2, acts2 := sc.j.step(sc.m, fmt.Sprintf("c%d", sc.commit), sc.st, tk.obs, at(tk.at))
		if jsonOf(t, []any{st, rt, acts}) != jsonOf(t, []any{st2, rt2, acts2}) {
			t.Fatalf("tick %d (t=%ds): the same inputs gave different outputs", i, tk.at)
		}
		sc.st = st
		sc.log = append(sc.log, jsonOf(t, []any{st, rt, acts}))
		name := fmt.Sprintf("tick %d (t=%ds)", i, tk.at)
		checkRoute(t, name, sc.m, rt)
		if tk.phase != "" && st.Phase != tk.phase {
			t.Errorf("%s: phase %q, want %q (%s)", name, st.Phase, tk.phase, st.Message)
		}
		if tk.weights != "" && weightsOf(rt) != tk.weights {
			t.Errorf("%s: weights %q, want %q", name, weightsOf(rt), tk.weights)
		}
		if got := summarize(acts); tk.acts != "*" && got != tk.acts {
			t.Errorf("%s: actions %q, want %q", name, got, tk.acts)
		}
		if tk.event != "" && !hasEvent(acts, tk.event) {
			t.Errorf("%s: no event containing %q in %v", name, tk.event, events(acts))
		}
		if tk.check != nil {
			tk.check(t, st, rt, acts)
		}
	}
}

// checkRoute asserts the invariants of every route: weights sum to 100,
// every version of the model is a backend, every weighted version too.
func checkRoute(t *testing.T, name string, m *spec.Model, rt traffic.Route) {
	t.Helper()
	sum := 0.0
	for _, w := range rt.Weights {
		sum += w.Percent
		if w.Percent < 0 {
			t.Errorf("%s: negative weight %v", name, w)
		}
		if _, ok := rt.Backends[w.Version]; !ok {
			t.Errorf("%s: weighted version %s has no backend", name, w.Version)
		}
	}
	if math.Abs(sum-100) > 1e-6 {
		t.Errorf("%s: weights %v sum to %v", name, rt.Weights, sum)
	}
	for v, ver := range m.Versions {
		if rt.Backends[v] != ver.URL {
			t.Errorf("%s: backend %s = %q, want %q", name, v, rt.Backends[v], ver.URL)
		}
	}
	if rt.Model != m.Name || rt.Stage != m.Stage || rt.Path != m.Path {
		t.Errorf("%s: route names %s/%s %s", name, rt.Model, rt.Stage, rt.Path)
	}
}

func weightsOf(rt traffic.Route) string {
	parts := make([]string, len(rt.Weights))
	for i, w := range rt.Weights {
		parts[i] = fmt.Sprintf("%s:%s", w.Version, pct(w.Percent))
	}
	return strings.Join(parts, " ")
}

// summarize lists commits and verdicts: "commit:rollback(v7>v6)
// verdict:rollout:rolled_back".
func summarize(acts []Action) string {
	var parts []string
	for _, a := range acts {
		switch a := a.(type) {
		case WriteCommit:
			parts = append(parts, fmt.Sprintf("commit:%s(%s>%s)", a.Kind, a.From, a.To))
		case RecordVerdict:
			outcome := ""
			switch p := a.Payload.(type) {
			case RolloutVerdict:
				outcome = p.Outcome
			case ShadowVerdict:
				outcome = map[bool]string{true: "passed", false: "failed"}[p.Passed]
			case ExperimentVerdict:
				outcome = p.Outcome
			}
			parts = append(parts, fmt.Sprintf("verdict:%s:%s", a.Kind, outcome))
		}
	}
	return strings.Join(parts, " ")
}

func events(acts []Action) []string {
	var out []string
	for _, a := range acts {
		if e, ok := a.(Event); ok {
			out = append(out, e.Level+": "+e.Message)
		}
	}
	return out
}

func hasEvent(acts []Action, sub string) bool {
	for _, e := range events(acts) {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

func commitOf(t *testing.T, acts []Action) WriteCommit {
	t.Helper()
	for _, a := range acts {
		if c, ok := a.(WriteCommit); ok {
			return c
		}
	}
	t.Fatalf("no commit in %v", acts)
	return WriteCommit{}
}

func verdictOf(t *testing.T, acts []Action) RecordVerdict {
	t.Helper()
	for _, a := range acts {
		if v, ok := a.(RecordVerdict); ok {
			return v
		}
	}
	t.Fatalf("no verdict in %v", acts)
	return RecordVerdict{}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonRoundTrip(t *testing.T, st ModelState) ModelState {
	t.Helper()
	var out ModelState
	if err := json.Unmarshal([]byte(jsonOf(t, st)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// adopted is the first tick of most scenarios: v6 seen for the first time.
var adopted = tick{at: 0, obs: none, phase: PhaseIdle, weights: "v6:100", event: "adopted"}

// every returns ticks at from, from+10, ... to (inclusive) with obs.
func every(from, to int, obs Observations) []tick {
	var out []tick
	for s := from; s <= to; s += 10 {
		out = append(out, tick{at: s, obs: obs})
	}
	return out
}

func concat(parts ...[]tick) []tick {
	var out []tick
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
