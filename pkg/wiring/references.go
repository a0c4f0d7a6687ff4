package wiring

import (
	"context"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Windows remembered while idle are at least minRememberWindow long; a
// longer gap than maxRememberWindow (the reconciler was stopped) starts
// afresh.
const (
	minRememberWindow = 10 * time.Second
	maxRememberWindow = 10 * time.Minute
)

// remember keeps the serving version's figures while nothing is rolled
// out, one window per call (the daemon's poll), for the checks that
// compare with the previous version: an all_at_once rollout, whose first
// window is already at 100%, then has a baseline from before the switch.
// Only builtin routers measure; failures are left to the next call.
func (ms *Measurer) remember(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) {
	if ms.References == nil || st.Stable == "" {
		return
	}
	r := tree.Routers[m.Router]
	if r == nil || r.Type != "builtin" {
		return
	}
	ms.mu.Lock()
	start, end, due := ms.rememberWindow(m, st, now)
	if _, seen := ms.remembered[m.Key()]; seen && end.Sub(start) < minRememberWindow {
		ms.mu.Unlock()
		return // too soon: let the window grow
	}
	ms.remembered[m.Key()] = end
	ms.mu.Unlock()
	if !due {
		return // first call, or a gap: start the windows from here
	}
	stats := func(ctx context.Context, _ time.Duration) (traffic.Stats, error) {
		if s, ok := ms.readAhead(m.Key(), start, end); ok {
			return s, nil
		}
		return ms.Routers.StatsRange(ctx, r, m.Name, m.Stage, start, end)
	}
	meter := analysis.Meter{Sources: map[string]analysis.Source{"router": analysis.RouterSource{Stats: stats}}, References: ms.References}
	_ = meter.Remember(ctx, m, st.Stable, end.Sub(start))
}

// rememberWindow is the window an idle model remembers now, and whether
// one is due: at least minRememberWindow since the last, and not after a
// gap longer than maxRememberWindow. It keeps ms.remembered as it is. The
// caller holds ms.mu.
func (ms *Measurer) rememberWindow(m *spec.Model, st rollout.ModelState, now time.Time) (start, end time.Time, due bool) {
	if ms.References == nil || st.Stable == "" {
		return time.Time{}, time.Time{}, false
	}
	if ms.remembered == nil {
		ms.remembered = map[string]time.Time{}
	}
	end = now.Truncate(time.Second)
	start, seen := ms.remembered[m.Key()]
	gap := end.Sub(start)
	return start, end, seen && gap >= minRememberWindow && gap <= maxRememberWindow
}
