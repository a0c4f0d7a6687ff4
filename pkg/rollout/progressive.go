package rollout

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Strategies.
const (
	AllAtOnce = "all_at_once"
	Canary    = "canary"
	BlueGreen = "blue_green"
)

// On failure.
const (
	OnRollback    = "rollback"
	OnFallback    = "fallback"
	OnRollThrough = "roll_through"
)

// planOf is m's rollout block with every default filled in and its stages
// spelled out as percentages on the new version.
func planOf(m *spec.Model) Plan {
	p := Plan{
		Strategy:      spec.DefaultStrategy,
		Bake:          spec.DefaultBake,
		Interval:      spec.DefaultInterval,
		OnFailure:     spec.DefaultOnFailure,
		PreviewHeader: spec.DefaultPreviewHeader,
		KeepPrevious:  spec.DefaultKeepPrevious,
	}
	if r := m.Rollout; r != nil {
		if r.Strategy != "" {
			p.Strategy = r.Strategy
		}
		if r.Bake > 0 {
			p.Bake = r.Bake
		}
		if r.Interval > 0 {
			p.Interval = r.Interval
		}
		if r.OnFailure != "" {
			p.OnFailure = r.OnFailure
		}
		if r.PreviewHeader != "" || r.Strategy == BlueGreen {
			// The loader fills in the default header; "" written in a
			// blue_green block means no preview header.
			p.PreviewHeader = r.PreviewHeader
		}
		if r.KeepPrevious > 0 {
			p.KeepPrevious = r.KeepPrevious
		}
		p.FailureLimit = r.FailureLimit
		p.PreviewMirror = r.PreviewMirror
		p.Fallback = r.Fallback
		p.RollThrough = r.RollThrough
	}
	switch p.Strategy {
	case Canary:
		if m.Rollout != nil {
			for _, w := range m.Rollout.Steps {
				if w > 0 && w < 100 {
					p.Steps = append(p.Steps, w)
				}
			}
		}
		sort.Float64s(p.Steps)
		p.Steps = append(p.Steps, 100)
	case BlueGreen:
		p.Steps = []float64{0, 100}
	default:
		p.Strategy = AllAtOnce
		p.Steps = []float64{100}
	}
	return p
}

func pct(w float64) string { return strconv.FormatFloat(w, 'f', -1, 64) }

// describe is a plan in one line: "canary 5% → 25% → 50% → 100%, bake 1m each".
func (p Plan) describe() string {
	switch p.Strategy {
	case BlueGreen:
		var preview []string
		if p.PreviewHeader != "" {
			preview = append(preview, "header "+p.PreviewHeader)
		}
		if p.PreviewMirror > 0 {
			preview = append(preview, fmt.Sprintf("%s%% of live requests mirrored", pct(p.PreviewMirror)))
		}
		if len(preview) == 0 {
			return fmt.Sprintf("blue_green: no preview (preview_header = \"\"), switch at once and bake %s", p.Bake)
		}
		return fmt.Sprintf("blue_green: preview (%s) for %s, then switch and bake %s", strings.Join(preview, ", "), p.Bake, p.Bake)
	case Canary:
		parts := make([]string, len(p.Steps))
		for i, w := range p.Steps {
			parts[i] = pct(w) + "%"
		}
		return fmt.Sprintf("canary %s, bake %s each", strings.Join(parts, " → "), p.Bake)
	}
	return fmt.Sprintf("all_at_once, bake %s", p.Bake)
}

// start begins a rollout from → to under the spec's current plan.
func (s *stepper) start(from, to string) {
	s.endExperiment("serve changed")
	p := planOf(s.m)
	s.st.Keep, s.st.Last = nil, nil
	s.st.Rollout = &RolloutState{
		From: from, To: to, Commit: s.commit, Plan: p,
		StartedAt: s.now, StepStartedAt: s.now,
	}
	if p.Strategy == AllAtOnce {
		s.st.Rollout.SwitchedAt = s.now
	}
	if p.Strategy == BlueGreen && p.PreviewHeader == "" && p.PreviewMirror <= 0 {
		// No preview traffic of any kind: a preview would only wait.
		s.st.Rollout.Step, s.st.Rollout.SwitchedAt = 1, s.now
	}
	s.restart = true
	s.event(LevelInfo, "%s rolling out %s (from %s) by %s; %s", s.key, to, from, p.describe(), s.where())
}

// where says which stage the rollout is at, for messages.
func (s *stepper) where() string {
	r := s.st.Rollout
	if r.Plan.Strategy == BlueGreen {
		if r.Step == 0 && r.Plan.PreviewMirror > 0 && r.Plan.PreviewHeader == "" {
			return fmt.Sprintf("during preview (%s%% of live requests mirrored)", pct(r.Plan.PreviewMirror))
		}
		if r.Step == 0 && r.Plan.PreviewMirror > 0 {
			return fmt.Sprintf("during preview (preview-header traffic and %s%% of live requests mirrored)", pct(r.Plan.PreviewMirror))
		}
		if r.Step == 0 {
			return "during preview (preview-header traffic only)"
		}
		return "after the switch (100% traffic)"
	}
	return fmt.Sprintf("at step %d of %d (%s%% traffic)", r.Step+1, len(r.Plan.Steps), pct(r.Plan.Steps[r.Step]))
}

// progress consumes the due measurements, then completes, pauses or
// resumes the current stage.
func (s *stepper) progress() {
	r := s.st.Rollout
	if s.due && r.StepStartedAt.Before(s.now) {
		if s.measure() {
			return
		}
	}
	if s.awaitTraffic() {
		return
	}
	if r.Paused {
		if len(s.missing()) == 0 {
			r.Paused, r.Seen, r.StepStartedAt = false, nil, s.now
			s.restart = true
			s.event(LevelInfo, "%s resumed: every check has data again; the bake %s restarts", s.key, s.where())
		}
		return
	}
	if s.now.Before(r.StepStartedAt.Add(r.Plan.Bake)) {
		return
	}
	if miss := s.missing(); len(miss) > 0 {
		r.Paused = true
		s.event(LevelWarn, "%s paused %s: no data for a whole bake (%s) from %s; not promoting %s blind (it resumes when data arrives)%s",
			s.key, s.where(), r.Plan.Bake, s.describeMissing(miss), r.To, s.previewHint())
		return
	}
	s.advance()
}

// previewHint says, for a blue_green rollout paused in its preview, how
// to give the checks data: only requests with the header reach green,
// besides the live requests preview_mirror copies to it.
func (s *stepper) previewHint() string {
	r := s.st.Rollout
	if r.Plan.Strategy != BlueGreen || r.Step != 0 {
		return ""
	}
	smoke := fmt.Sprintf("send your smoke tests with it (curl -H '%s: 1' ... on %s)", r.Plan.PreviewHeader, s.m.Path)
	if r.Plan.PreviewHeader == "" {
		return fmt.Sprintf(": during the preview %s%% of live requests on %s are copied to %s (preview_mirror) and nothing else reaches it; if there is no live traffic to copy, or a check needs a metric the copies do not give, set preview_header and send smoke tests with it",
			pct(r.Plan.PreviewMirror), s.m.Path, r.To)
	}
	if r.Plan.PreviewMirror > 0 {
		return fmt.Sprintf(": during the preview %s%% of live requests on %s are copied to %s (preview_mirror) and requests with the header %q reach it; if there is no live traffic to copy, or a check needs a metric the copies do not give, %s",
			pct(r.Plan.PreviewMirror), s.m.Path, r.To, r.Plan.PreviewHeader, smoke)
	}
	return fmt.Sprintf(": during the preview only requests with the header %q reach %s, so %s, or set preview_mirror in the rollout block to copy a share of live requests to it",
		r.Plan.PreviewHeader, r.To, smoke)
}

// missing lists the checks without data during the current stage.
func (s *stepper) missing() []string {
	var out []string
	for _, c := range s.m.Checks {
		if !s.st.Rollout.Seen[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}

func (s *stepper) describeMissing(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("check %q", n)
		if rec, ok := s.st.Last[n]; ok && rec.Reason != "" {
			parts[i] += " (" + rec.Reason + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// measure judges every check on the window's measurements. It reports
// whether on_failure was carried out.
func (s *stepper) measure() bool {
	r := s.st.Rollout
	if s.st.Last == nil {
		s.st.Last = map[string]CheckRecord{}
	}
	var failed *spec.Check
	var failedReason string
	for _, c := range s.m.Checks {
		meas, ok := s.obs.Checks[c.Name]
		rec := CheckRecord{Version: r.To, Verdict: analysis.NoData.String(), At: s.now, Requests: -1}
		if !ok {
			rec.Reason = "no measurement in the window"
			s.st.Last[c.Name] = rec
			continue
		}
		v, reason := s.j.judge(c, meas)
		rec.Value, rec.Baseline, rec.Requests = meas.Value, meas.Baseline, meas.Requests
		rec.Verdict, rec.Reason = v.String(), reason
		s.st.Last[c.Name] = rec
		if v == analysis.NoData {
			continue
		}
		r.Measured = inc(r.Measured, c.Name)
		r.Seen = mark(r.Seen, c.Name)
		if v == analysis.Fail {
			r.Failures = inc(r.Failures, c.Name)
			if r.Failures[c.Name] > r.Plan.FailureLimit && failed == nil {
				failed, failedReason = c, reason
			}
		}
	}
	if failed == nil {
		return false
	}
	s.fail(failed, failedReason)
	return true
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

func mark(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[k] = true
	return m
}

// advance moves to the next stage, or completes the rollout.
func (s *stepper) advance() {
	r := s.st.Rollout
	r.Step++
	if r.Step >= len(r.Plan.Steps) {
		s.succeed()
		return
	}
	r.StepStartedAt, r.Seen = s.now, nil
	s.restart = true
	if r.Plan.Strategy == BlueGreen && r.Step == 1 {
		r.SwitchedAt = s.now
		s.event(LevelInfo, "%s switched: 100%% on %s, %s kept at weight 0; checks run through a second bake of %s", s.key, r.To, r.From, r.Plan.Bake)
		return
	}
	s.event(LevelInfo, "%s: %s on %s %s", s.key, pct(r.Plan.Steps[r.Step])+"%", r.To, s.where())
}

func (s *stepper) rolloutVerdict(outcome, reason string) RolloutVerdict {
	r := s.st.Rollout
	checks := map[string]CheckRecord{}
	for _, c := range s.m.Checks {
		if rec, ok := s.st.Last[c.Name]; ok {
			checks[c.Name] = rec
		}
	}
	return RolloutVerdict{
		Version: r.To, From: r.From, Strategy: r.Plan.Strategy, Outcome: outcome, Reason: reason,
		Checks: checks, Failures: cloneMap(r.Failures), Measured: cloneMap(r.Measured),
	}
}

// succeed completes the rollout: To becomes stable.
func (s *stepper) succeed() {
	r := s.st.Rollout
	s.st.Stable = r.To
	kept := ""
	if r.Plan.Strategy == BlueGreen && r.Plan.KeepPrevious > 0 {
		until := r.SwitchedAt.Add(r.Plan.KeepPrevious)
		if s.now.Before(until) {
			s.st.Keep = &Keep{Version: r.From, Until: until}
			kept = fmt.Sprintf("; %s kept at weight 0 until %s", r.From, until.UTC().Format("15:04:05Z"))
		}
	}
	s.verdict(VerdictRollout, r.Commit, s.rolloutVerdict("succeeded", ""))
	s.event(LevelInfo, "%s rollout of %s succeeded: 100%% on %s%s", s.key, r.To, r.To, kept)
	s.st.Rollout = nil
	s.succeeded = true
}

// abort ends the rollout at once because the spec's serve went back to
// the rollout's source: Git already says so, no commit is written.
func (s *stepper) abort() {
	r := s.st.Rollout
	reason := fmt.Sprintf("serve is back to %s in Git (a revert) %s", r.From, s.where())
	s.verdict(VerdictRollout, r.Commit, s.rolloutVerdict("aborted", reason))
	s.event(LevelWarn, "%s rollout of %s aborted: %s; 100%% on %s at once", s.key, r.To, reason, r.From)
	s.st.Rollout = nil
	s.prev = PhaseIdle
}

// supersede ends the rollout because serve changed to a third version,
// and starts a rollout from the stable version (the rollout's source,
// the last version known good) to the new one.
func (s *stepper) supersede() {
	r := s.st.Rollout
	reason := fmt.Sprintf("serve changed to %s in Git %s", s.m.Serve, s.where())
	s.verdict(VerdictRollout, r.Commit, s.rolloutVerdict("superseded", reason))
	s.event(LevelInfo, "%s rollout of %s superseded: %s", s.key, r.To, reason)
	s.st.Rollout = nil
	if _, ok := s.m.Versions[s.m.Serve]; !ok {
		s.event(LevelError, "%s: serve = %q is not a version of the model; 100%% on %s", s.key, s.m.Serve, s.st.Stable)
		return
	}
	s.start(s.st.Stable, s.m.Serve)
}

// fail carries out on_failure: traffic first (the route this Step
// returns), then the commit that makes Git agree, and a hold until it does.
func (s *stepper) fail(c *spec.Check, judged string) {
	r := s.st.Rollout
	p := r.Plan
	reason := fmt.Sprintf("check %q failed: %s %s, %d of %d measurements",
		c.Name, judged, s.where(), r.Failures[c.Name], r.Measured[c.Name])
	facts := map[string]string{
		"check":         c.Name,
		"metric":        c.Metric,
		"judged":        judged,
		"strategy":      p.Strategy,
		"step":          strconv.Itoa(r.Step + 1),
		"steps":         strconv.Itoa(len(p.Steps)),
		"traffic":       pct(p.Steps[r.Step]),
		"failed":        strconv.Itoa(r.Failures[c.Name]),
		"measurements":  strconv.Itoa(r.Measured[c.Name]),
		"failure_limit": strconv.Itoa(p.FailureLimit),
	}
	if rec, ok := s.st.Last[c.Name]; ok {
		facts["value"] = strconv.FormatFloat(rec.Value, 'g', -1, 64)
		facts["baseline"] = strconv.FormatFloat(rec.Baseline, 'g', -1, 64)
	}
	onFailure := p.OnFailure
	switch onFailure {
	case OnFallback:
		if v, ok := s.m.Versions[p.Fallback]; !ok || !v.Heuristic || p.Fallback == r.To {
			s.event(LevelWarn, "%s: fallback %q is not a heuristic version of the model; rolling back instead", s.key, p.Fallback)
			onFailure = OnRollback
		}
	case OnRollThrough:
		if _, ok := s.m.Versions[p.RollThrough]; !ok || p.RollThrough == r.To || p.RollThrough == r.From {
			s.event(LevelWarn, "%s: roll_through %q is not another version of the model; rolling back instead", s.key, p.RollThrough)
			onFailure = OnRollback
		}
	default:
		onFailure = OnRollback
	}
	wc := WriteCommit{Model: s.m.Name, Stage: s.m.Stage, From: r.To, Reason: reason, Commit: r.Commit, Facts: facts}
	h := Hold{Bad: r.To, Since: s.now}
	var outcome, summary string
	switch onFailure {
	case OnFallback:
		wc.Kind, wc.To = CommitFallback, p.Fallback
		h.Restored, h.Expect = p.Fallback, p.Fallback
		outcome, summary = "fell_back", fmt.Sprintf("fell back from %s to %s", r.To, p.Fallback)
	case OnRollThrough:
		wc.Kind, wc.To = CommitRollThrough, p.RollThrough
		h.Restored, h.Expect = r.From, p.RollThrough
		outcome, summary = "rolled_through", fmt.Sprintf("rolled back from %s to %s, rolling through to %s", r.To, r.From, p.RollThrough)
	default:
		wc.Kind, wc.To, wc.RevertsServeOf = CommitRollback, r.From, r.To
		h.Restored, h.Expect = r.From, r.From
		outcome, summary = "rolled_back", fmt.Sprintf("rolled back from %s to %s", r.To, r.From)
	}
	wc.Facts["from"], wc.Facts["to"] = wc.From, wc.To
	h.Kind = string(wc.Kind)
	s.verdict(VerdictRollout, r.Commit, s.rolloutVerdict(outcome, reason))
	s.event(LevelError, "%s %s: %s", s.key, summary, reason)
	s.write(wc)
	s.st.Stable = h.Restored
	s.st.Held = &h
	s.st.Rollout = nil
}

// keepExpiry retires blue_green's previous version after keep_previous.
func (s *stepper) keepExpiry() {
	k := s.st.Keep
	if k == nil || s.now.Before(k.Until) {
		return
	}
	s.st.Keep = nil
	s.event(LevelInfo, "%s: %s retired (keep_previous over)", s.key, k.Version)
}
