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
	end := now.Truncate(time.Second)
	ms.mu.Lock()
	if ms.remembered == nil {
		ms.remembered = map[string]time.Time{}
	}
	start, seen := ms.remembered[m.Key()]
	if seen && end.Sub(start) < minRememberWindow {
		ms.mu.Unlock()
		return // too soon: let the window grow
	}
	ms.remembered[m.Key()] = end
	ms.mu.Unlock()
	if !seen || end.Sub(start) > maxRememberWindow {
		return // first call, or a gap: start the windows from here
	}
	stats := func(ctx context.Context, _ time.Duration) (traffic.Stats, error) {
		return ms.Routers.StatsRange(ctx, r, m.Name, m.Stage, start, end)
	}
	meter := analysis.Meter{Sources: map[string]analysis.Source{"router": analysis.RouterSource{Stats: stats}}, References: ms.References}
	_ = meter.Remember(ctx, m, st.Stable, end.Sub(start))
}
