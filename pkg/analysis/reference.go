package analysis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// DefaultReferenceWindows is how many of the previous version's last
// windows a References keeps per check.
const DefaultReferenceWindows = 6

// References keeps, per model and check, the previous version's figures
// from its last windows with live traffic. Once that version takes no
// traffic (the final bake of a canary, all_at_once, blue_green after the
// switch) a check compares the new version with them instead of having
// no baseline, and its reason says so. Sketches merge exactly; scalar
// figures are combined as a mean weighted by requests (exact for rates,
// accuracies and means, an approximation for latency percentiles). It is
// safe for concurrent use; memory is bounded by the checks of the models
// measured (one previous version each).
type References struct {
	Windows int // windows kept per check (default DefaultReferenceWindows)

	mu   sync.Mutex
	kept map[refCheck]*reference
}

type refCheck struct{ model, check string }

type refKey struct{ model, check, version string }

type reference struct {
	version string
	windows []Result // oldest first, at most Windows
}

// NewReferences returns an empty store.
func NewReferences() *References { return &References{} }

func (r *References) keep(k refKey, res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kept == nil {
		r.kept = map[refCheck]*reference{}
	}
	ck := refCheck{k.model, k.check}
	ref := r.kept[ck]
	if ref == nil || ref.version != k.version {
		ref = &reference{version: k.version}
		r.kept[ck] = ref
	}
	limit := r.Windows
	if limit <= 0 {
		limit = DefaultReferenceWindows
	}
	// Keep only the baseline's side; clone the sketch so that later
	// merges do not alias the source's maps.
	w := Result{Baseline: res.Baseline, BaselineRequests: res.BaselineRequests, HasBaseline: true}
	if res.BaselineSketch != nil {
		c := res.BaselineSketch.Clone()
		w.BaselineSketch = &c
	}
	ref.windows = append(ref.windows, w)
	if len(ref.windows) > limit {
		ref.windows = append(ref.windows[:0], ref.windows[len(ref.windows)-limit:]...)
	}
}

// fill sets res's baseline from the kept windows of k's version and
// returns how many it combined (0: none kept, res unchanged).
func (r *References) fill(k refKey, res *Result) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := r.kept[refCheck{k.model, k.check}]
	if ref == nil || ref.version != k.version || len(ref.windows) == 0 {
		return 0
	}
	var sum float64
	var n int64
	var sk *behaviour.Sketch
	for _, w := range ref.windows {
		sum += w.Baseline * float64(w.BaselineRequests)
		n += w.BaselineRequests
		if w.BaselineSketch != nil {
			if sk == nil {
				sk = &behaviour.Sketch{}
			}
			sk.Merge(*w.BaselineSketch)
		}
	}
	if n <= 0 {
		return 0
	}
	res.Baseline, res.BaselineRequests, res.HasBaseline, res.BaselineSketch = sum/float64(n), n, true, sk
	return len(ref.windows)
}

// comparesWithPrevious says whether a check compares the new version
// with the previous one: a ratio, or a behaviour metric.
func comparesWithPrevious(c *spec.Check) bool {
	src := c.Source == "" || c.Source == "router"
	return src && (c.MaxRatio != nil || c.MinRatio != nil || isBehaviour(c.Metric))
}

// Remember measures version alone (it holds all traffic: nothing is
// being rolled out) over the last window, for every check of m that
// compares with the previous version, and keeps the figures as that
// version's reference, so that a later all_at_once rollout from it has a
// baseline from before the switch. A no-op without References.
func (mt Meter) Remember(ctx context.Context, m *spec.Model, version string, window time.Duration) error {
	if mt.References == nil {
		return nil
	}
	var src Source
	var errs []error
	for _, c := range m.Checks {
		if !comparesWithPrevious(c) {
			continue
		}
		if src == nil {
			s, ok := mt.Sources["router"]
			if !ok {
				return nil
			}
			if sn, ok := s.(snapshotter); ok {
				snap, err := sn.Snapshot(ctx, window)
				if err != nil {
					return err
				}
				s = snap
			}
			src = s
		}
		r, err := src.Query(ctx, Query{Model: m.Name, Stage: m.Stage, Version: version, Metric: c.Metric,
			Output: c.Output, Window: window, MinRequests: c.MinRequests})
		if err != nil {
			errs = append(errs, fmt.Errorf("check %q of %s on %s: %w", c.Name, m.Key(), version, err))
			continue
		}
		if r.Requests <= 0 || r.Requests < int64(c.MinRequests) {
			continue
		}
		mt.References.keep(refKey{model: m.Key(), check: c.Name, version: version},
			Result{Baseline: r.Value, BaselineRequests: r.Requests, HasBaseline: true, BaselineSketch: r.Sketch})
	}
	return errors.Join(errs...)
}
