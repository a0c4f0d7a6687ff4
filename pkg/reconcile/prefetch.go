package reconcile

import (
	"context"
	"maps"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Prefetcher is a Measurer that reads the measurements of every model due
// at once (one request per router replica) before a pass steps them one by
// one: measuring 10,000 models model by model is 10,000 requests to each
// replica.
type Prefetcher interface {
	Prefetch(ctx context.Context, tree *spec.Tree, states map[string]rollout.ModelState, now time.Time)
}

// prefetch hands the Measurer the tree and every model's state when it
// can read ahead.
func (d *Daemon) prefetch(ctx context.Context, tree *spec.Tree, now time.Time) {
	pf, ok := d.deps.Measurer.(Prefetcher)
	if !ok {
		return
	}
	pf.Prefetch(ctx, tree, maps.Clone(d.state.Models), now)
}
