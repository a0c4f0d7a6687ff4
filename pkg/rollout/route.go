package rollout

import (
	"slices"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// phase is where the model stands after this Step.
func (s *stepper) phase() Phase {
	st := s.st
	switch {
	case st.Held != nil:
		if st.Held.Kind == string(CommitPromote) {
			return PhaseHeld
		}
		return PhaseFailedHeld
	case st.Rollout != nil:
		r := st.Rollout
		switch {
		case r.Paused || r.UnappliedLong:
			return PhasePaused
		case r.Plan.Strategy == BlueGreen && r.Step == 0:
			return PhasePreview
		case r.Plan.Strategy == BlueGreen:
			return PhaseSwitched
		case r.Plan.Steps[r.Step] < 100:
			return PhaseProgressing
		}
		return PhaseBaking
	case st.Experiment != nil && !st.Experiment.Done:
		return PhaseExperimenting
	case st.Shadow != nil && !st.Shadow.Decided:
		return PhaseAssessing
	case s.succeeded || s.prev == PhaseSucceeded:
		return PhaseSucceeded
	}
	return PhaseIdle
}

// weights is the live split for the current state, and the optional
// preview and bandit settings.
func (s *stepper) weights() ([]traffic.Weight, *traffic.Preview, *traffic.Bandit, string) {
	st := s.st
	switch {
	case st.Held != nil:
		return []traffic.Weight{{Version: st.Held.Restored, Percent: 100}}, nil, nil, ""
	case st.Rollout != nil:
		r := st.Rollout
		w := r.Plan.Steps[r.Step]
		if r.Plan.Strategy == BlueGreen && r.Step == 0 {
			var preview *traffic.Preview
			if r.Plan.PreviewHeader != "" {
				preview = &traffic.Preview{Header: r.Plan.PreviewHeader, Version: r.To}
			}
			return []traffic.Weight{{Version: r.From, Percent: 100}, {Version: r.To, Percent: 0}}, preview, nil, ""
		}
		// The source stays listed (weight 0 at 100%) for an instant rollback.
		return []traffic.Weight{{Version: r.From, Percent: 100 - w}, {Version: r.To, Percent: w}}, nil, nil, ""
	case st.Experiment != nil && !st.Experiment.Done:
		x := st.Experiment
		ws := make([]traffic.Weight, len(x.Arms))
		for i, a := range x.Arms {
			ws[i] = traffic.Weight{Version: a, Percent: x.Weights[i]}
		}
		var b *traffic.Bandit
		if x.Method == MethodBandit && s.m.Experiment != nil {
			b = &traffic.Bandit{Arms: append([]string(nil), x.Arms...), ExploreFloor: s.m.Experiment.ExploreFloor}
		}
		sticky := ""
		if s.m.Experiment != nil {
			sticky = s.m.Experiment.Sticky
		}
		return ws, nil, b, sticky
	}
	ws := []traffic.Weight{{Version: st.Stable, Percent: 100}}
	if st.Keep != nil {
		ws = append(ws, traffic.Weight{Version: st.Keep.Version, Percent: 0})
	}
	return ws, nil, nil, ""
}

// route is the table entry the model's router should hold. Backends list
// every version of the model, plus any version still weighted that the
// spec no longer lists (remembered in the state).
func (s *stepper) route() traffic.Route {
	ws, preview, bandit, sticky := s.weights()
	rt := traffic.Route{
		Model: s.m.Name, Stage: s.m.Stage, Path: s.m.Path,
		Backends: make(map[string]string, len(s.m.Versions)),
		Weights:  ws, Preview: preview, Bandit: bandit, Sticky: sticky,
	}
	for name, v := range s.m.Versions {
		rt.Backends[name] = v.URL
		if v.CAFile != "" {
			if rt.CAFiles == nil {
				rt.CAFiles = map[string]string{}
			}
			rt.CAFiles[name] = v.CAFile
		}
	}
	urls := make(map[string]string, len(ws))
	for _, w := range ws {
		if u, ok := rt.Backends[w.Version]; ok {
			urls[w.Version] = u
		} else if u, ok := s.st.URLs[w.Version]; ok {
			rt.Backends[w.Version] = u
			urls[w.Version] = u
		}
	}
	s.st.URLs = urls
	rt.Outputs = outputs(s.m)
	if x := s.st.Shadow; x != nil && s.m.Shadow != nil {
		sh := s.m.Shadow
		rt.Shadow = &traffic.Shadow{Version: sh.Version, Percent: sh.Percent, Compare: sh.Compare, Tolerance: sh.Tolerance}
	}
	if v, ok := s.st.Mirrored(); ok && s.st.Held == nil {
		// The preview's mirror takes the shadow's place: the router
		// copies live requests to green and drops its answers.
		rt.Shadow = &traffic.Shadow{Version: v, Percent: s.st.Rollout.Plan.PreviewMirror, Compare: "json"}
	}
	return rt
}

// outputs are the JSON pointers the model's checks read from answers,
// sorted, each once: the router parses answers only for these.
func outputs(m *spec.Model) []string {
	var out []string
	for _, c := range m.Checks {
		if c.Output != "" && !slices.Contains(out, c.Output) {
			out = append(out, c.Output)
		}
	}
	slices.Sort(out)
	return out
}
