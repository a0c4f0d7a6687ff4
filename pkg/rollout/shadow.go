package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

// shadow runs the spec's shadow block beside whatever is live, and
// records one verdict once min_samples pairs were compared. It never
// promotes: that stays a human's PR.
func (s *stepper) shadow() {
	sh, st := s.m.Shadow, s.st
	if sh == nil {
		if x := st.Shadow; x != nil {
			if !x.Decided {
				s.event(LevelInfo, "%s shadow of %s removed from the spec before a verdict (%d of %d pairs)", s.key, x.Version, x.Pairs, x.MinSamples)
			}
			st.Shadow = nil
		}
		return
	}
	if _, ok := s.m.Versions[sh.Version]; !ok || sh.Version == st.Stable || (st.Rollout != nil && sh.Version == st.Rollout.To) {
		// Nothing to compare: the shadow is (becoming) the live version.
		st.Shadow = nil
		return
	}
	fp := fingerprint(sh)
	if st.Shadow == nil || st.Shadow.Fingerprint != fp {
		st.Shadow = &ShadowState{Version: sh.Version, Fingerprint: fp, Commit: s.commit, StartedAt: s.now, MinSamples: sh.MinSamples}
		// Pairs from before it are not this assessment's.
		st.MeasuredAt = s.now
		s.event(LevelInfo, "%s shadow assessment of %s started: %s%% of live requests copied, verdict after %d pairs",
			s.key, sh.Version, pct(sh.Percent), sh.MinSamples)
		return
	}
	x := st.Shadow
	if !s.due {
		return
	}
	if vs, ok := s.obs.Versions[sh.Version]; ok {
		x.Pairs += vs.ShadowPairs
		x.Agreements += vs.ShadowAgreements
		x.Errors += vs.ShadowErrors
		x.Outputs = addSketches(x.Outputs, vs.Outputs)
		x.LiveOutputs = addSketches(x.LiveOutputs, s.obs.Versions[st.Stable].Outputs)
	}
	v := s.j.shadow(x.Pairs, x.Agreements, sh.MinAgreement, int64(sh.MinSamples))
	x.Lower, x.Upper = v.Lower, v.Upper
	if x.Decided || !v.Decided {
		return
	}
	x.Decided, x.Passed = true, v.Passed
	drift, driftText := shadowDrift(x)
	s.verdict(VerdictShadow, x.Commit, ShadowVerdict{
		Version: x.Version, Passed: v.Passed, Agreement: v.Agreement, Lower: v.Lower, Upper: v.Upper,
		Samples: v.Samples, MinAgreement: sh.MinAgreement, Errors: x.Errors, Drift: drift,
	})
	word := "failed"
	if v.Passed {
		word = "passed"
	}
	s.event(LevelInfo, "%s shadow assessment of %s %s: agreement %.4f (95%% interval %.4f–%.4f) over %d pairs, min_agreement %s%s; promotion stays a PR",
		s.key, x.Version, word, v.Agreement, v.Lower, v.Upper, v.Samples, fmt.Sprint(sh.MinAgreement), driftText)
}

// addSketches merges a window's output sketches into a running sum; the
// sum's sketches are copied first, since the input state shares them.
func addSketches(sum, window map[string]behaviour.Sketch) map[string]behaviour.Sketch {
	for p, sk := range window {
		if sum == nil {
			sum = map[string]behaviour.Sketch{}
		}
		cur := sum[p].Clone()
		cur.Merge(sk)
		sum[p] = cur
	}
	return sum
}

// shadowDrift is the drift of the shadow's outputs from the live
// version's, by pointer, and its words for the event ("" when none).
func shadowDrift(x *ShadowState) (map[string]behaviour.Drift, string) {
	var out map[string]behaviour.Drift
	var words []string
	for _, p := range slices.Sorted(maps.Keys(x.Outputs)) {
		d, ok := behaviour.Compare(x.Outputs[p], x.LiveOutputs[p])
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]behaviour.Drift{}
		}
		out[p] = d
		words = append(words, fmt.Sprintf("output %s PSI %.3g (%.0f%% lower bound %.3g, %d vs %d answers)",
			p, d.PSI, 100*behaviour.DriftConfidence, d.Lower, d.N, d.M))
	}
	if len(words) == 0 {
		return nil, ""
	}
	return out, "; " + strings.Join(words, ", ")
}
