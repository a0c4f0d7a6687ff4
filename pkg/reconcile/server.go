package reconcile

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Handler serves the reconciler's HTTP surface (SPEC.md §4, §9): the
// status page at /, /api/status, /metrics, and the webhook handler given
// (nil: no webhook). Wrap it in RequireToken to put it behind a token.
func (d *Daemon) Handler(webhook http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.deps.Metrics.Registry, promhttp.HandlerOpts{}))
	page := pageHandler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /ui/", page)
	if webhook != nil {
		mux.Handle("POST /webhook/github", webhook)
	}
	return mux
}

// Tree is the spec tree being carried out (nil before the first good head).
func (d *Daemon) Tree() *spec.Tree {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tree
}

// Status is a snapshot of everything the daemon knows.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{
		Head: d.head, Applied: d.applied,
		HeadError: d.headErr, HeadDiagnostics: d.headDiags, OwnCommitRejected: d.ownRejected,
		LastFetch: d.lastFetch, FetchError: d.fetchErr,
		Now:    d.deps.Clock.Now(),
		Models: []ModelStatus{},
		Events: d.hist.recent(),
	}
	if d.headErr != "" && d.checked == d.head {
		s.HeadNotes = d.notes
	}
	for _, p := range d.pending {
		s.PendingCommits = append(s.PendingCommits, PendingCommit{
			Model: p.out.Model + "/" + p.out.Stage, Action: string(p.out.Kind),
			Attempts: p.attempts, LastErr: p.lastErr, NextTry: p.nextTry,
		})
	}
	if d.tree == nil {
		return s
	}
	for _, m := range d.tree.Models {
		key := m.Key()
		st := d.state.Models[key]
		ms := ModelStatus{
			Model: m.Name, Stage: m.Stage, Serve: m.Serve, Router: m.Router,
			Phase: string(st.Phase), Message: st.Message,
			Held:       st.Held != nil,
			LastCommit: d.lastByKey[key], Error: d.modelErr[key],
			Weights: d.routes[key].Weights,
		}
		if r := st.Rollout; r != nil {
			ms.From, ms.To = r.From, r.To
			ms.Strategy = r.Plan.Strategy
			ms.Steps = len(r.Plan.Steps)
			ms.Step = r.Step + 1
			if ms.Steps > 0 {
				ms.Progress = float64(r.Step) / float64(ms.Steps)
			}
		} else if st.Phase != "" {
			ms.Progress = 1
		}
		names := make([]string, 0, len(st.Last))
		for n := range st.Last {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := st.Last[n]
			ms.Measurements = append(ms.Measurements, Measurement{
				Check: n, Value: c.Value, Baseline: c.Baseline, Verdict: c.Verdict, Reason: c.Reason, Requests: c.Requests,
			})
		}
		if sh := st.Shadow; sh != nil {
			ss := &ShadowStatus{Version: sh.Version, Pairs: sh.Pairs, Errors: sh.Errors,
				Lower: sh.Lower, Upper: sh.Upper, Decided: sh.Decided, Passed: sh.Passed}
			if sh.Pairs > 0 {
				ss.Agreement = float64(sh.Agreements) / float64(sh.Pairs)
			}
			ms.Shadow = ss
		}
		if ex := st.Experiment; ex != nil {
			es := &ExperimentStatus{Method: ex.Method, PValue: ex.PValue, Decided: ex.Decided, Winner: ex.Winner}
			for i, arm := range ex.Arms {
				a := ArmStatus{Version: arm, Samples: ex.Stats[arm].N}
				if a.Samples > 0 {
					a.Mean = ex.Stats[arm].Sum / float64(a.Samples)
				}
				if i < len(ex.Weights) {
					a.Weight = ex.Weights[i]
				}
				if i < len(ex.ProbBest) {
					a.ProbBest = ex.ProbBest[i]
				}
				es.Arms = append(es.Arms, a)
			}
			ms.Experiment = es
		}
		if sh := st.Shadow; sh != nil && sh.Decided {
			verdict := "failed"
			if sh.Passed {
				verdict = "passed"
			}
			ms.Verdicts = append(ms.Verdicts, "shadow "+sh.Version+" "+verdict)
		}
		if ex := st.Experiment; ex != nil && ex.Decided {
			ms.Verdicts = append(ms.Verdicts, ex.Method+" winner: "+orNone(ex.Winner))
		}
		d.decorate(&ms, m)
		s.Models = append(s.Models, ms)
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
