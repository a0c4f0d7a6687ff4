package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Status is what `GET /api/status` answers and `reconciler status` shows.
type Status struct {
	// Head is the newest commit fetched; Applied the one being carried out.
	// They differ when the head failed validation or policy.
	Head    string `json:"head"`
	Applied string `json:"applied"`
	// HeadError says why Head is not applied, with its diagnostics.
	HeadError       string            `json:"head_error,omitempty"`
	HeadDiagnostics []diag.Diagnostic `json:"head_diagnostics,omitempty"`
	// HeadNotes is, while Head is rejected, the commit of
	// refs/notes/switchyard it was last judged with: a fetch that finds
	// the notes ref elsewhere judges Head again.
	HeadNotes  string    `json:"head_notes,omitempty"`
	LastFetch  time.Time `json:"last_fetch"`
	FetchError string    `json:"fetch_error,omitempty"`
	// OwnCommitRejected is set while Head is one of the reconciler's own
	// outcome commits and is rejected (a bug: see OwnRejection).
	OwnCommitRejected *OwnRejection `json:"own_commit_rejected,omitempty"`
	// PendingCommits are outcomes whose commit has not reached the remote
	// yet; traffic is already restored for each of them.
	PendingCommits []PendingCommit `json:"pending_commits,omitempty"`
	// PendingPullRequests are, with `--push pr`, the outcome pull requests
	// not merged yet (oldest first): Git disagrees with traffic until then.
	PendingPullRequests []PendingPullRequest `json:"pending_pull_requests,omitempty"`
	Models              []ModelStatus        `json:"models"`
	// Events are the recent events, newest first: rollouts started,
	// paused and succeeded, outcomes with the commit written, rejected
	// heads (the last RecentEvents, since the reconciler started).
	Events []notify.Event `json:"events"`
	Now    time.Time      `json:"now"`
	// Fleets lists, per router fleet, every replica's table generation,
	// last contact and last error.
	Fleets map[string][]traffic.ReplicaStatus `json:"fleets,omitempty"`
	// With several reconciler replicas (etcd): this replica's ID, the
	// leader's, and this replica's role, "leader" or "standby".
	ID     string `json:"id,omitempty"`
	Leader string `json:"leader,omitempty"`
	Role   string `json:"role,omitempty"`
}

// ModelStatus is one model's rollout as status shows it.
type ModelStatus struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	Serve string `json:"serve"` // what Git says should serve
	Phase string `json:"phase"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	// Strategy, step (1-based) of Steps, and progress in 0..1.
	Strategy string           `json:"strategy,omitempty"`
	Step     int              `json:"step,omitempty"`
	Steps    int              `json:"steps,omitempty"`
	Progress float64          `json:"progress"`
	Weights  []traffic.Weight `json:"weights"`
	Router   string           `json:"router"`
	Held     bool             `json:"held,omitempty"`
	Message  string           `json:"message,omitempty"`
	// Measurements are the last value of each check.
	Measurements []Measurement `json:"measurements,omitempty"`
	Verdicts     []string      `json:"verdicts,omitempty"`
	LastCommit   string        `json:"last_commit,omitempty"`
	Error        string        `json:"error,omitempty"`
	// Shadow and Experiment are shown while one runs or has a verdict.
	Shadow     *ShadowStatus     `json:"shadow,omitempty"`
	Experiment *ExperimentStatus `json:"experiment,omitempty"`
	// unacknowledgedFor is how long the engine has held the rollout's
	// step for traffic its router has not acknowledged everywhere (the
	// status itself shows the model as the router last took it); it feeds
	// switchyard_rollout_unacknowledged_seconds.
	unacknowledgedFor time.Duration
}

// ShadowStatus is a shadow assessment's progress.
type ShadowStatus struct {
	Version   string  `json:"version"`
	Pairs     int64   `json:"pairs"`
	Agreement float64 `json:"agreement"`
	Lower     float64 `json:"lower,omitempty"`
	Upper     float64 `json:"upper,omitempty"`
	Errors    int64   `json:"errors"`
	Decided   bool    `json:"decided"`
	Passed    bool    `json:"passed"`
}

// ExperimentStatus is an A/B test's or bandit's progress.
type ExperimentStatus struct {
	Method  string      `json:"method"`
	Arms    []ArmStatus `json:"arms"`
	PValue  float64     `json:"p_value,omitempty"`
	Decided bool        `json:"decided"`
	Winner  string      `json:"winner,omitempty"`
}

// ArmStatus is one variant of an experiment.
type ArmStatus struct {
	Version  string  `json:"version"`
	Weight   float64 `json:"weight"`
	Samples  int64   `json:"samples"`
	Mean     float64 `json:"mean"`
	ProbBest float64 `json:"prob_best,omitempty"`
}

// Rollout is "from→to" while a rollout runs, "" otherwise.
func (m ModelStatus) Rollout() string {
	if m.From == "" || m.To == "" || m.From == m.To {
		return ""
	}
	return m.From + "→" + m.To
}

// Measurement is one check's last value.
type Measurement struct {
	Check    string  `json:"check"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline,omitempty"`
	Verdict  string  `json:"verdict"`
	Reason   string  `json:"reason,omitempty"`
	Requests int64   `json:"requests"`
	// Metric (or query), thresholds and the last CheckPoints
	// measurements of the check, oldest first, for charts.
	Metric   string   `json:"metric,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	MaxRatio *float64 `json:"max_ratio,omitempty"`
	MinRatio *float64 `json:"min_ratio,omitempty"`
	History  []Point  `json:"history,omitempty"`
}

// PendingCommit is an outcome waiting to be pushed.
type PendingCommit struct {
	Model    string    `json:"model"`
	Action   string    `json:"action"`
	Attempts int       `json:"attempts"`
	LastErr  string    `json:"last_error"`
	NextTry  time.Time `json:"next_try"`
}

// Status is the snapshot the last pass published, stamped with the time
// it is read (Now). It is safe from any goroutine and never waits for a
// pass; what it holds is never changed afterwards.
func (d *Daemon) Status() Status {
	s := *d.status.Load()
	s.Now = d.deps.Clock.Now()
	s.PendingPullRequests = agedAt(s.PendingPullRequests, s.Now)
	return s
}

// publish makes the snapshot of what the pass completed the one Status
// answers, and returns it.
func (d *Daemon) publish() *Status {
	s := d.snapshot()
	d.status.Store(s)
	return s
}

// snapshot is the status as the pass leaves it. A model whose route its
// router has not acknowledged shows as it was when the router last did
// (see shown), with the reason as its error: the status never names a
// step whose traffic is not in force.
func (d *Daemon) snapshot() *Status {
	s := &Status{
		Head: d.head, Applied: d.appliedCommit,
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
	s.PendingPullRequests = d.pendingPullRequests()
	if d.tree != nil {
		var acked acknowledged // indexed only when a router is behind
		for _, m := range d.tree.Models {
			why := ""
			if !d.tableInForce[m.Router] {
				if acked == nil {
					acked = d.acknowledged()
				}
				why = d.unapplied(m, acked)
			}
			ms := d.shownModel(m, why)
			if r := d.state.Models[m.Key()].Rollout; r != nil && r.Unapplied && !r.UnappliedSince.IsZero() {
				ms.unacknowledgedFor = max(s.Now.Sub(r.UnappliedSince), 0)
			}
			s.Models = append(s.Models, ms)
		}
	}
	// Full slices: a reader appending to its copy never writes into ours.
	s.Models, s.PendingCommits = slices.Clip(s.Models), slices.Clip(s.PendingCommits)
	s.PendingPullRequests = slices.Clip(s.PendingPullRequests)
	return s
}

// shownModel is m's status when its router holds its route (why is "");
// otherwise the one shown when the router last did, with why it is behind.
func (d *Daemon) shownModel(m *spec.Model, why string) ModelStatus {
	key := m.Key()
	if why == "" {
		ms := d.modelStatus(m)
		d.shown[key] = ms
		return ms
	}
	next := d.modelStatus(m)
	at := engineAt(next)
	if next.Message != "" {
		at += ": " + next.Message
	}
	ms, ok := d.shown[key]
	if ok {
		ms.Error = fmt.Sprintf("%s; shown as when it last acknowledged this model's route, the engine is at %s", why, at)
	} else {
		ms = ModelStatus{Model: m.Name, Stage: m.Stage, Serve: m.Serve, Router: m.Router}
		ms.Error = fmt.Sprintf("%s; the engine is at %s", why, at)
	}
	if e := d.modelErr[key]; e != "" {
		ms.Error += "; " + e
	}
	return ms
}

// engineAt says in a few words where the engine has a model: its phase,
// step and split.
func engineAt(ms ModelStatus) string {
	out := orNone(ms.Phase)
	if ms.Steps > 0 {
		out += fmt.Sprintf(" step %d of %d", ms.Step, ms.Steps)
	}
	var parts []string
	for _, w := range ms.Weights {
		parts = append(parts, fmt.Sprintf("%s %g%%", w.Version, w.Percent))
	}
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return out
}

// modelStatus is m's status from the engine's state and the last route.
func (d *Daemon) modelStatus(m *spec.Model) ModelStatus {
	key := m.Key()
	st := d.state.Models[key]
	ms := ModelStatus{
		Model: m.Name, Stage: m.Stage, Serve: m.Serve, Router: m.Router,
		Phase: string(st.Phase), Message: st.Message,
		Held:       st.Held != nil,
		LastCommit: d.lastByKey[key], Error: d.modelErr[key],
		Weights: slices.Clip(d.routes[key].Weights), // shared with routes: full, so never appended to in place
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
	for _, n := range slices.Sorted(maps.Keys(st.Last)) {
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
	return ms
}
