// Package rollout is Switchyard's pure strategy engine: from a model's
// spec, the engine's state, what was measured and the current time, it
// decides the traffic each router should hold and what the daemon must do
// (write a commit, record a verdict, emit an event). It reads no clock,
// does no I/O, starts no goroutines; its only randomness comes from a seed
// carried in the state.
//
// Lifecycle of one model, in the order Step considers it:
//
//  1. First sight: serve is adopted at 100% without a rollout.
//  2. Held (after on_failure or a promoted experiment winner): traffic
//     stays where the engine put it until the spec's serve equals the
//     value the engine's commit writes (Git agrees) or differs from the
//     value that was held against (a human's new intent).
//  3. Intent: serve == the rollout's target continues it; serve back to
//     the rollout's source (a revert) aborts at once with no commit;
//     any other serve supersedes: a new rollout from the stable version.
//     A serve that differs from the stable version starts a rollout.
//  4. Progress: checks are judged every interval, a stage completes after
//     its bake if every check had data, pauses otherwise, and a check
//     failing more than failure_limit times carries out on_failure.
//  5. Experiment (only when no rollout runs and nothing is held) and
//     shadow (beside whatever is live).
//
// Decisions the spec leaves open, made here:
//   - A superseded rollout restarts from the stable version (the last one
//     known good), never from the half-proven one it replaces.
//   - A stage completes only when every check had data during its bake;
//     otherwise the rollout pauses at the stage's traffic, and when data
//     returns the stage's bake restarts.
//   - A stage's bake runs only while its route is acknowledged by every
//     part of its router (Observations.Unapplied empty); it restarts from
//     the last Step that saw it unacknowledged. Restores never wait. A
//     hold longer than five intervals (at least a minute) pauses the
//     rollout loudly; it still never advances until acknowledged.
//   - Failures count per check over the whole rollout, not per stage.
//   - A rollout carries out the rollout block in force when it started
//     (Plan); check edits apply at once.
//   - roll_through restores the source version first and lets the
//     commit setting serve to the roll_through version drive its rollout.
//   - An A/B test or bandit without a winner concludes once every variant
//     has ExperimentSampleHorizon × min_samples rewards, or after
//     ExperimentMaxDuration. A heuristic never wins.
package rollout

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Observations is what the daemon measured for one model over the window
// [ModelState.MeasuredAt, now]. Observations passed when no measurement
// is due (before MeasuredAt + interval) are ignored, so that an extra Step
// (a webhook, a retry) never counts a window twice.
type Observations struct {
	// Checks holds, per check name, its measurement of the version under
	// rollout (ModelState.Measuring) with the baseline version's value in
	// the same window. An absent check had no data.
	Checks map[string]analysis.Measurement `json:"checks,omitempty"`
	// Versions holds each version's router stats over the window: shadow
	// pairs and agreements on the shadow version, experiment rewards on
	// each variant.
	Versions map[string]traffic.VersionStats `json:"versions,omitempty"`
	// Unapplied, when not empty, says why the route this model was last
	// given is not yet acknowledged by every part of its router (a fleet
	// replica that has not taken the table). The current step's bake does
	// not run until it is: see awaitTraffic. Restores never wait for it.
	// Unlike the measurements it counts at every Step, due or not.
	Unapplied string `json:"unapplied,omitempty"`
}

// Decision constants that the spec does not expose.
const (
	// ProbBestDraws is the Monte Carlo sample size behind bandit weights.
	ProbBestDraws = 10000
	// ExperimentSampleHorizon: an experiment still undecided once every
	// arm has this many times min_samples concludes with no difference.
	ExperimentSampleHorizon = 20
	// ExperimentMaxDuration: an experiment still undecided after this
	// long concludes with no difference.
	ExperimentMaxDuration = 30 * 24 * time.Hour
)

// judges are the analysis functions the engine decides with. Step uses
// the real ones; the indirection lets tests substitute fakes without any
// package-level state.
type judges struct {
	judge         func(*spec.Check, analysis.Measurement) (analysis.Verdict, string)
	sequential    func(prevP float64, a, b analysis.Arm, alpha float64, minSamples int64) analysis.ABResult
	probBest      func(arms []analysis.Arm, draws int, seed uint64) []float64
	banditWeights func(probBest []float64, floor float64) []float64
	shadow        func(pairs, agreements int64, minAgreement float64, minSamples int64) analysis.ShadowVerdict
}

func analysisJudges() judges {
	return judges{
		judge:         analysis.Judge,
		sequential:    analysis.SequentialStep,
		probBest:      analysis.ProbBest,
		banditWeights: analysis.BanditWeights,
		shadow:        analysis.JudgeShadow,
	}
}

// Step advances one model. It returns the model's next state, the route
// its router should hold, and the actions the daemon must carry out after
// applying the route. commit is the spec revision m was read from. Step
// is a pure function of its arguments: calling it twice with the same
// arguments gives the same results, and it never modifies st.
func Step(m *spec.Model, commit string, st ModelState, obs Observations, now time.Time) (ModelState, traffic.Route, []Action) {
	return analysisJudges().step(m, commit, st, obs, now)
}

// StepAll steps every model of tree and groups the routes into one table
// per router (every router of the tree gets a table, possibly empty).
// Models present in st but gone from the tree are dropped from the state.
func StepAll(tree *spec.Tree, commit string, st State, obs map[string]Observations, now time.Time) (State, map[string]traffic.Table, []Action) {
	return analysisJudges().stepAll(tree, commit, st, obs, now)
}

func (j judges) stepAll(tree *spec.Tree, commit string, st State, obs map[string]Observations, now time.Time) (State, map[string]traffic.Table, []Action) {
	out := State{Models: make(map[string]ModelState, len(tree.Models))}
	tables := make(map[string]traffic.Table, len(tree.Routers))
	for name := range tree.Routers {
		tables[name] = traffic.Table{Routes: []traffic.Route{}}
	}
	var acts []Action
	for _, m := range tree.Models {
		ms, route, a := j.step(m, commit, st.Models[m.Key()], obs[m.Key()], now)
		out.Models[m.Key()] = ms
		t := tables[m.Router]
		t.Routes = append(t.Routes, route)
		tables[m.Router] = t
		acts = append(acts, a...)
	}
	var gone []string
	for key := range st.Models {
		if _, ok := out.Models[key]; !ok {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		acts = append(acts, Event{Level: LevelInfo, Model: key, Message: key + " is no longer in the spec: its route and state are dropped"})
	}
	return out, tables, acts
}

// stepper carries one Step's inputs and collects its actions.
type stepper struct {
	j         judges
	m         *spec.Model
	key       string
	commit    string
	st        *ModelState
	obs       Observations
	now       time.Time
	due       bool // a measurement window is due: consume obs
	restart   bool // a stage began: the next window starts now
	succeeded bool // a rollout completed in this Step
	prev      Phase
	acts      []Action
}

func (j judges) step(m *spec.Model, commit string, in ModelState, obs Observations, now time.Time) (ModelState, traffic.Route, []Action) {
	st := in.clone()
	s := &stepper{j: j, m: m, key: m.Key(), commit: commit, st: &st, obs: obs, now: now, prev: in.Phase}
	st.Model, st.Stage = m.Name, m.Stage
	st.Interval = planOf(m).Interval
	if st.Stable == "" {
		s.adopt()
	}
	s.due = st.MeasuredAt.IsZero() || !now.Before(st.MeasuredAt.Add(st.Interval))
	if st.Awaiting != nil && gitMovedOn(m, *st.Awaiting) {
		st.Awaiting = nil
	}

	if st.Held != nil {
		s.held()
	}
	if st.Held == nil {
		s.intent()
		if st.Rollout != nil {
			s.progress()
		}
	}
	s.keepExpiry()
	s.experiment()
	s.shadow()

	if s.due || s.restart {
		st.MeasuredAt = now
	}
	st.Revision = commit
	st.Phase = s.phase()
	return st, s.route(), s.acts
}

func (s *stepper) event(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.st.Message = msg
	s.acts = append(s.acts, Event{Level: level, Model: s.key, Message: msg})
}

// write asks for a commit and remembers it until Git agrees.
func (s *stepper) write(wc WriteCommit) {
	wc.File = s.m.File
	s.acts = append(s.acts, wc)
	c := wc
	c.Facts = cloneMap(wc.Facts)
	s.st.Awaiting = &c
}

// gitMovedOn reports whether the spec no longer needs the commit wc:
// it already says what wc writes, or a human changed serve since.
func gitMovedOn(m *spec.Model, wc WriteCommit) bool {
	switch wc.Kind {
	case CommitConclude:
		return m.Experiment == nil || m.Serve != wc.From
	case CommitPromote:
		return (m.Serve == wc.To && m.Experiment == nil) || (m.Serve != wc.From && m.Serve != wc.To)
	}
	return m.Serve != wc.From
}

func (s *stepper) verdict(kind VerdictKind, commit string, payload any) {
	s.acts = append(s.acts, RecordVerdict{Kind: kind, Model: s.m.Name, Stage: s.m.Stage, Commit: commit, Payload: payload})
}

// adopt takes a model seen for the first time as already serving serve.
func (s *stepper) adopt() {
	h := fnv.New64a()
	h.Write([]byte(s.key))
	s.st.Seed = h.Sum64()
	s.st.Stable = s.m.Serve
	s.event(LevelInfo, "%s adopted: 100%% on %s (first sight, no rollout)", s.key, s.m.Serve)
}

// held releases a hold once Git agrees or a human states a new intent.
func (s *stepper) held() {
	h := s.st.Held
	switch {
	case s.m.Serve == h.Expect:
		s.st.Held = nil
		s.event(LevelInfo, "%s: Git now says serve = %s, as live traffic does; the model is no longer held on the restored version", s.key, s.m.Serve)
	case s.m.Serve != h.Bad:
		s.st.Held = nil
		s.event(LevelInfo, "%s: Git now says serve = %s (a new intent, not the failed %s); the model is no longer held on the restored version", s.key, s.m.Serve, h.Bad)
	}
}

// intent reconciles the spec's serve with the rollout in progress.
func (s *stepper) intent() {
	st, serve := s.st, s.m.Serve
	r := st.Rollout
	switch {
	case r != nil && serve == r.To:
		return
	case r != nil && serve == r.From:
		s.abort()
		return
	case r != nil:
		s.supersede()
		return
	case serve == st.Stable:
		return
	}
	if _, ok := s.m.Versions[serve]; !ok {
		if !strings.Contains(st.Message, "not a version") {
			s.event(LevelError, "%s: serve = %q is not a version of the model; nothing changes", s.key, serve)
		}
		return
	}
	if k := st.Keep; k != nil && serve == k.Version && s.now.Before(k.Until) {
		old := st.Stable
		st.Stable, st.Keep, s.prev = serve, nil, PhaseIdle
		s.endExperiment("serve changed")
		s.event(LevelInfo, "%s switched back to %s at once (kept by keep_previous); %s leaves", s.key, serve, old)
		return
	}
	s.start(st.Stable, serve)
}
