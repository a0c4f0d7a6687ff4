package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Resyncer is a target that gives the table it last applied again to
// whatever part of the router lost it (a fleet's restarted replica).
type Resyncer interface {
	Resync(ctx context.Context) error
}

// routerApplied is what one router did with this pass's table.
type routerApplied struct {
	acked   bool // the router acknowledged the table
	applied bool // the table was sent (it changed), so it is the new tableAcked
	failed  bool // sending it failed: counts as an apply failure
	err     error
}

// apply sends each router its table; unchanged tables are not re-sent
// but let a fleet repair its replicas. The routers are handled at once,
// one goroutine each: a hung replica of one router (held for the replica
// timeout) never delays another router's table, so a restore on one
// router is in force while another's call is still held. The results are
// recorded after every router answered, in router-name order, so errors
// and the daemon's maps read the same whatever order the routers answer
// in.
func (d *Daemon) apply(ctx context.Context, tree *spec.Tree) error {
	tables := map[string]*traffic.Table{}
	for _, m := range tree.Models {
		r, ok := d.routes[m.Key()]
		if !ok {
			continue
		}
		t := tables[m.Router]
		if t == nil {
			t = &traffic.Table{}
			tables[m.Router] = t
		}
		t.Routes = append(t.Routes, r)
	}
	names := make([]string, 0, len(tree.Routers))
	for n := range tree.Routers {
		names = append(names, n)
	}
	sort.Strings(names)
	sent := make([]traffic.Table, len(names))
	results := make([]routerApplied, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		t := tables[name]
		if t == nil {
			t = &traffic.Table{Routes: []traffic.Route{}}
		}
		sent[i] = *t
		prev, had := d.tableAcked[name]
		unchanged := had && tablesEqual(prev, *t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.applyRouter(ctx, name, tree.Routers[name], *t, unchanged)
		}()
	}
	wg.Wait()
	clear(d.tableInForce)
	var errs []error
	for i, name := range names {
		res := results[i]
		if res.failed {
			d.deps.Metrics.applyFailures.Inc()
		}
		if res.applied {
			d.tableAcked[name] = sent[i]
		}
		if res.acked {
			d.tableInForce[name] = true
		}
		errs = append(errs, res.err)
	}
	return errors.Join(errs...)
}

// applyRouter sends one router its table, or resyncs it when the table
// is the one it acknowledged last. It touches none of the daemon's state:
// apply runs it for every router at once.
func (d *Daemon) applyRouter(ctx context.Context, name string, r *spec.Router, t traffic.Table, unchanged bool) routerApplied {
	if unchanged {
		// The table stays in force whatever the resync says: the router
		// acknowledged it before, and a stale replica is reported as such.
		return routerApplied{acked: true, err: d.resync(ctx, r)}
	}
	target, err := d.deps.Routers.Target(ctx, r)
	if err != nil {
		return routerApplied{err: fmt.Errorf("router %q: %w", name, err)}
	}
	if err := target.Apply(ctx, t); err != nil {
		return routerApplied{failed: true, err: fmt.Errorf("applying traffic to router %q: %w", name, err)}
	}
	return routerApplied{acked: true, applied: true}
}

// resync lets a target whose table is unchanged repair its replicas.
func (d *Daemon) resync(ctx context.Context, r *spec.Router) error {
	target, err := d.deps.Routers.Target(ctx, r)
	if err != nil {
		return nil // reported when a table is applied
	}
	if rs, ok := target.(Resyncer); ok {
		return rs.Resync(ctx)
	}
	return nil
}

func tablesEqual(a, b traffic.Table) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
