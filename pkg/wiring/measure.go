package wiring

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Measurer measures models through their router's own stats and the
// metrics blocks of the tree being carried out.
type Measurer struct {
	Routers *Routers
	HTTP    *http.Client
	// References keeps the previous version's last windows per check, the
	// baseline of a check once that version has no traffic (nil: none).
	References *analysis.References

	mu         sync.Mutex
	remembered map[string]time.Time // per model: end of the last window remembered while idle
	ahead      map[string]window    // per model: stats read by Prefetch this pass
}

var _ reconcile.Measurer = (*Measurer)(nil)

// windowChecker is a router target that can say whether a window of its
// traffic was whole (an HAProxy router: no instance restarted or cleared
// its counters in it), whatever source measures that traffic.
type windowChecker interface {
	Measurable(ctx context.Context, from time.Time) error
}

// Observe measures the model's window (rollout.ModelState.Window) when
// one is due; otherwise it returns no observations.
func (ms *Measurer) Observe(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error) {
	var obs rollout.Observations
	measuring := st.Rollout != nil || st.Shadow != nil || (st.Experiment != nil && !st.Experiment.Done)
	if !measuring {
		ms.remember(ctx, tree, m, st, now)
	}
	start, end, due := st.Window(now)
	if !due {
		return obs, nil
	}
	window := end.Sub(start)
	r := tree.Routers[m.Router]
	if r == nil {
		return obs, fmt.Errorf("router %q is not in the spec", m.Router)
	}
	// One stats snapshot serves the router checks, the shadow and the
	// experiment of this model.
	var snap *traffic.Stats
	var snapErr error
	stats := func(ctx context.Context, w time.Duration) (traffic.Stats, error) {
		if snap == nil && snapErr == nil {
			s, ok := ms.readAhead(m.Key(), start, end)
			var err error
			if !ok {
				s, err = ms.Routers.StatsRange(ctx, r, m.Name, m.Stage, start, end)
			}
			snap, snapErr = &s, err
		}
		if snapErr != nil {
			return traffic.Stats{}, snapErr
		}
		return *snap, nil
	}
	var errs []error
	if to, from, ok := st.Measuring(); ok {
		mirrored, _ := st.Mirrored()
		meter := analysis.Meter{Sources: map[string]analysis.Source{"router": analysis.RouterSource{Stats: stats, Mirrored: mirrored}}, References: ms.References}
		for name, src := range tree.Metrics {
			meter.Sources[name] = &analysis.Prometheus{URL: src.URL, HTTP: ms.HTTP}
		}
		checks, err := meter.Measure(ctx, m, to, from, window)
		if err != nil {
			errs = append(errs, err)
		}
		obs.Checks = checks
		// Read after the checks (a restart up to then is in what they
		// read): none of them is judged on a mixed sample.
		if len(checks) > 0 {
			if err := ms.whole(ctx, r, start); err != nil {
				obs.Checks = nil
				errs = append(errs, fmt.Errorf("no data for the window: %w", err))
			}
		}
	}
	if st.Shadow != nil || st.Experiment != nil {
		s, err := stats(ctx, window)
		if err != nil {
			errs = append(errs, err)
		} else {
			obs.Versions = map[string]traffic.VersionStats{}
			for _, vs := range s.Versions {
				if vs.Model == m.Name && vs.Stage == m.Stage {
					obs.Versions[vs.Version] = vs
				}
			}
		}
	}
	return obs, errors.Join(errs...)
}

// whole says whether the router's traffic since start was counted whole,
// when its target can tell (an HAProxy router, whose instances' counters
// a restart, reload or `clear counters all` starts again from zero, and
// which its checks read through Prometheus). A builtin fleet says so
// through its stats (analysis.FleetStats).
func (ms *Measurer) whole(ctx context.Context, r *spec.Router, start time.Time) error {
	t, err := ms.Routers.Target(ctx, r)
	if err != nil {
		return err
	}
	if wc, ok := t.(windowChecker); ok {
		return wc.Measurable(ctx, start)
	}
	return nil
}
