package wiring

import (
	"context"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// window is one model's stats read ahead for one window.
type window struct {
	from, to time.Time
	stats    traffic.Stats
}

// Prefetch reads, before a pass steps the models one by one, the router
// stats of every model whose window is due (a measurement, or the
// reference window an idle model remembers): one batched request per
// replica of each builtin router instead of one per model and replica.
// Observe then takes a model's stats from here when the window matches,
// and reads them itself otherwise (or when the batch failed).
func (ms *Measurer) Prefetch(ctx context.Context, tree *spec.Tree, states map[string]rollout.ModelState, now time.Time) {
	queries := map[string][]traffic.StatsQuery{}
	keys := map[string][]string{}
	ms.mu.Lock()
	for _, m := range tree.Models {
		r := tree.Routers[m.Router]
		if r == nil || r.Type != "builtin" {
			continue
		}
		st := states[m.Key()]
		start, end, due := st.Window(now)
		if !due {
			start, end, due = ms.rememberWindow(m, st, now)
		}
		if !due {
			continue
		}
		queries[m.Router] = append(queries[m.Router], traffic.StatsQuery{Model: m.Name, Stage: m.Stage, From: start.Unix(), To: end.Unix()})
		keys[m.Router] = append(keys[m.Router], m.Key())
	}
	ms.mu.Unlock()
	ahead := map[string]window{}
	for name, qs := range queries {
		stats, errs, ok := ms.Routers.StatsBatch(ctx, tree.Routers[name], qs)
		if !ok {
			continue
		}
		for i, q := range qs {
			if errs[i] == nil {
				ahead[keys[name][i]] = window{from: time.Unix(q.From, 0), to: time.Unix(q.To, 0), stats: stats[i]}
			}
		}
	}
	ms.mu.Lock()
	ms.ahead = ahead
	ms.mu.Unlock()
}

// readAhead returns the model's stats read by Prefetch for exactly this
// window.
func (ms *Measurer) readAhead(key string, from, to time.Time) (traffic.Stats, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	w, ok := ms.ahead[key]
	if !ok || !w.from.Equal(from) || !w.to.Equal(to) {
		return traffic.Stats{}, false
	}
	return w.stats, true
}
