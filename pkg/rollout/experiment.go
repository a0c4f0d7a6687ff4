package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Experiment methods.
const (
	MethodAB     = "ab"
	MethodBandit = "bandit"
)

func fingerprint(v any) string {
	b, _ := json.Marshal(v) // plain data: cannot fail
	return string(b)
}

func experimentFingerprint(e *spec.Experiment) string {
	return fingerprint(struct {
		E     *spec.Experiment
		Order []string
	}{e, e.VariantOrder})
}

// arms lists the variants in spec order.
func arms(e *spec.Experiment) []string {
	if len(e.VariantOrder) == len(e.Variants) {
		return append([]string(nil), e.VariantOrder...)
	}
	out := make([]string, 0, len(e.Variants))
	for v := range e.Variants {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// normalize turns shares into percentages summing to exactly 100 (the
// last arm takes the rounding remainder).
func normalize(w []float64) []float64 {
	sum := 0.0
	for _, x := range w {
		sum += math.Max(x, 0)
	}
	out := make([]float64, len(w))
	if len(w) == 0 {
		return out
	}
	if sum <= 0 {
		for i := range out {
			out[i] = 100 / float64(len(w))
		}
	} else {
		for i, x := range w {
			out[i] = math.Max(x, 0) * 100 / sum
		}
	}
	rest := 100.0
	for i := 0; i < len(out)-1; i++ {
		out[i] = math.Round(out[i]*1000) / 1000
		rest -= out[i]
	}
	out[len(out)-1] = math.Round(rest*1000) / 1000
	return out
}

// endExperiment stops a running experiment because of something outside
// it (serve changed): it restarts from scratch when it may run again.
func (s *stepper) endExperiment(why string) {
	x := s.st.Experiment
	if x == nil {
		return
	}
	if !x.Done {
		s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("ended", "", why, false))
		s.event(LevelInfo, "%s experiment ended without a decision: %s", s.key, why)
	}
	s.st.Experiment = nil
}

func (s *stepper) experimentVerdict(outcome, winner, reason string, promoted bool) ExperimentVerdict {
	x := s.st.Experiment
	v := ExperimentVerdict{Method: x.Method, Outcome: outcome, Winner: winner, Reason: reason,
		PValue: x.PValue, Arms: cloneMap(x.Stats), Promoted: promoted}
	if len(x.ProbBest) == len(x.Arms) {
		v.ProbBest = map[string]float64{}
		for i, a := range x.Arms {
			v.ProbBest[a] = x.ProbBest[i]
		}
	}
	return v
}

// experiment runs the spec's experiment block when nothing else drives
// traffic: no rollout in progress and no hold.
func (s *stepper) experiment() {
	e, st := s.m.Experiment, s.st
	if e == nil {
		if x := st.Experiment; x != nil {
			if !x.Done {
				s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("ended", "", "experiment block removed from the spec", false))
				s.event(LevelInfo, "%s experiment ended: its block was removed from the spec; 100%% on %s", s.key, st.Stable)
			}
			st.Experiment = nil
		}
		return
	}
	if st.Held != nil || st.Rollout != nil {
		return
	}
	fp := experimentFingerprint(e)
	if x := st.Experiment; x != nil && x.Fingerprint != fp {
		if !x.Done {
			s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("ended", "", "experiment block changed; restarting", false))
		}
		st.Experiment = nil
	}
	if st.Experiment == nil {
		names := arms(e)
		shares := make([]float64, len(names))
		for i, a := range names {
			shares[i] = e.Variants[a]
			if _, ok := s.m.Versions[a]; !ok {
				s.event(LevelError, "%s: experiment variant %q is not a version of the model; experiment not started", s.key, a)
				return
			}
		}
		st.Experiment = &ExperimentState{
			Method: e.Method, Fingerprint: fp, Commit: s.commit, StartedAt: s.now,
			Arms: names, Stats: map[string]ArmStats{}, Weights: normalize(shares),
		}
		// Its first measurement starts now: rewards from before the split
		// (the control alone, say) are not the experiment's.
		st.MeasuredAt = s.now
		s.event(LevelInfo, "%s experiment (%s) started over %v", s.key, e.Method, names)
		return
	}
	x := st.Experiment
	if x.Done || !s.due {
		return
	}
	fresh := false
	for _, a := range x.Arms {
		vs, ok := s.obs.Versions[a]
		if !ok || vs.Rewards <= 0 {
			continue
		}
		fresh = true
		as := x.Stats[a]
		as.N += vs.Rewards
		as.Sum += vs.RewardSum
		as.SumSq += vs.RewardSumSq
		x.Stats[a] = as
	}
	if e.Method == MethodBandit {
		s.bandit(e, x, fresh)
	} else {
		s.ab(e, x)
	}
}

func (x *ExperimentState) arm(name string) analysis.Arm {
	a := x.Stats[name]
	return analysis.Arm{Name: name, N: a.N, Sum: a.Sum, SumSq: a.SumSq}
}

func (x *ExperimentState) mean(name string) float64 {
	a := x.Stats[name]
	if a.N == 0 {
		return 0
	}
	return a.Sum / float64(a.N)
}

func minSamples(e *spec.Experiment) int64 {
	if e.MinSamples > 0 {
		return int64(e.MinSamples)
	}
	return 100
}

// horizon reports whether an undecided experiment has run long enough to
// conclude there is no difference worth acting on.
func (s *stepper) horizon(e *spec.Experiment, x *ExperimentState) (bool, string) {
	if s.now.Sub(x.StartedAt) >= ExperimentMaxDuration {
		return true, fmt.Sprintf("no decision after %s", ExperimentMaxDuration)
	}
	limit := ExperimentSampleHorizon * minSamples(e)
	for _, a := range x.Arms {
		if x.Stats[a].N < limit {
			return false, ""
		}
	}
	return true, fmt.Sprintf("no decision after %d samples per variant (%d× min_samples)", limit, ExperimentSampleHorizon)
}

// ab compares every other variant with the control (serve, or the first
// variant) by the mSPRT; with k variants each comparison runs at alpha/(k-1).
func (s *stepper) ab(e *spec.Experiment, x *ExperimentState) {
	if x.Decided || len(x.Arms) < 2 {
		return
	}
	control := x.Arms[0]
	if _, ok := e.Variants[s.m.Serve]; ok {
		control = s.m.Serve
	}
	alpha := e.Alpha
	if alpha <= 0 {
		alpha = 0.05
	}
	alpha /= float64(len(x.Arms) - 1)
	best, controlWins, decided, treatments := "", 0, 0, 0
	x.PValue = 1
	var bestRes analysis.ABResult
	for _, t := range x.Arms {
		if t == control {
			continue
		}
		treatments++
		// The always-valid p-value is the running minimum over looks.
		res := s.j.sequential(x.PValues[t], x.arm(control), x.arm(t), alpha, minSamples(e))
		if x.PValues == nil {
			x.PValues = map[string]float64{}
		}
		x.PValues[t] = res.PValue
		x.PValue = math.Min(x.PValue, res.PValue)
		if !res.Decided {
			continue
		}
		decided++
		switch res.Winner {
		case t:
			if best == "" || x.mean(t) > x.mean(best) {
				best, bestRes = t, res
			}
		case control:
			controlWins++
		}
	}
	describe := func(w, other string, p float64) string {
		return fmt.Sprintf("%s beats %s: mean reward %.4g vs %.4g over %d and %d samples, always-valid p = %.3g < alpha %.3g",
			w, other, x.mean(w), x.mean(other), x.Stats[w].N, x.Stats[other].N, p, alpha)
	}
	switch {
	case best != "":
		s.winner(e, x, best, describe(best, control, bestRes.PValue))
	case decided == treatments && controlWins == treatments:
		s.winner(e, x, control, fmt.Sprintf("%s (control) beats every other variant, always-valid p ≤ %.3g < alpha %.3g", control, x.PValue, alpha))
	case decided == treatments:
		s.noDifference(e, x, "the sequential test decided: no variant beats the control")
	default:
		if done, why := s.horizon(e, x); done {
			s.noDifference(e, x, why)
		}
	}
}

// bandit updates the weights by probability matching on P(best) (Thompson
// sampling batched per interval) and declares a winner at promote_when.
func (s *stepper) bandit(e *spec.Experiment, x *ExperimentState, fresh bool) {
	if !fresh {
		return
	}
	as := make([]analysis.Arm, len(x.Arms))
	for i, a := range x.Arms {
		as[i] = x.arm(a)
	}
	seed := s.st.Seed ^ (s.st.Draws+1)*0x9E3779B97F4A7C15
	s.st.Draws++
	p := s.j.probBest(as, ProbBestDraws, seed)
	if len(p) != len(x.Arms) {
		return
	}
	w := s.j.banditWeights(p, e.ExploreFloor)
	if len(w) != len(x.Arms) {
		return
	}
	x.ProbBest = p
	x.Weights = normalize(w)
	if x.Decided {
		return
	}
	best := -1
	for i, a := range x.Arms {
		if v, ok := s.m.Versions[a]; ok && v.Heuristic {
			continue // a heuristic is never an experiment winner
		}
		if best < 0 || p[i] > p[best] {
			best = i
		}
	}
	enough := true
	for _, a := range x.Arms {
		if x.Stats[a].N < minSamples(e) {
			enough = false
		}
	}
	promoteWhen := e.PromoteWhen
	if promoteWhen <= 0 {
		promoteWhen = 0.95
	}
	if best >= 0 && enough && p[best] >= promoteWhen {
		arm := x.Arms[best]
		s.winner(e, x, arm, fmt.Sprintf("%s is best with probability %.3f ≥ promote_when %.3g (mean reward %.4g over %d samples)",
			arm, p[best], promoteWhen, x.mean(arm), x.Stats[arm].N))
		return
	}
	if done, why := s.horizon(e, x); done {
		s.noDifference(e, x, why)
	}
}

// winner records the verdict and, with auto_promote, sends all traffic to
// the winner and writes the promote commit. A heuristic is never promoted.
func (s *stepper) winner(e *spec.Experiment, x *ExperimentState, w, reason string) {
	x.Decided, x.Winner = true, w
	if v, ok := s.m.Versions[w]; ok && v.Heuristic {
		s.noDifference(e, x, reason+"; but "+w+" is a heuristic, never promoted")
		return
	}
	serve := s.m.Serve
	if !e.AutoPromote {
		s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("winner", w, reason, false))
		s.event(LevelInfo, "%s experiment winner: %s; auto_promote is off: promote with a PR setting serve = %q and removing the experiment block", s.key, reason, w)
		return
	}
	x.Done = true
	wc := WriteCommit{Kind: CommitPromote, Model: s.m.Name, Stage: s.m.Stage, From: serve, To: w,
		Reason: reason, Commit: x.Commit, RemoveExperiment: true,
		Facts: map[string]string{"method": x.Method, "winner": w, "from": serve, "to": w}}
	s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("winner", w, reason, true))
	s.event(LevelInfo, "%s experiment promoted %s: %s", s.key, w, reason)
	s.write(wc)
	if w != s.st.Stable {
		s.st.Stable = w
		s.st.Held = &Hold{Kind: string(CommitPromote), Restored: w, Bad: serve, Expect: w, Since: s.now}
	}
}

// noDifference concludes the experiment: all traffic back to serve and a
// commit that removes the block.
func (s *stepper) noDifference(e *spec.Experiment, x *ExperimentState, reason string) {
	x.Decided, x.Done = true, true
	serve := s.st.Stable
	wc := WriteCommit{Kind: CommitConclude, Model: s.m.Name, Stage: s.m.Stage, From: serve, To: serve,
		Reason: reason, Commit: x.Commit, RemoveExperiment: true,
		Facts: map[string]string{"method": x.Method, "from": serve, "to": serve}}
	s.verdict(VerdictExperiment, x.Commit, s.experimentVerdict("no_difference", "", reason, false))
	s.event(LevelInfo, "%s experiment concluded without a winner: %s; 100%% on %s", s.key, reason, serve)
	s.write(wc)
}
