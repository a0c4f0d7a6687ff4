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
	// labels keeps, per model and label check, the new version's label
	// moments of its last Windows windows (pool).
	labels map[refCheck]*labelPool
}

// labelPool is a new version's label moments, one per window, oldest
// first.
type labelPool struct {
	version string
	windows []behaviour.Moments
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
	limit := r.limit()
	// Keep only the baseline's side; clone the sketch so that later
	// merges do not alias the source's maps.
	w := Result{Baseline: res.Baseline, BaselineRequests: res.BaselineRequests, HasBaseline: true, BaselineMoments: res.BaselineMoments}
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
	var mo behaviour.Moments
	for _, w := range ref.windows {
		sum += w.Baseline * float64(w.BaselineRequests)
		n += w.BaselineRequests
		mo.Merge(w.BaselineMoments)
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
	res.BaselineMoments = mo
	return len(ref.windows)
}

func (r *References) limit() int {
	if r.Windows <= 0 {
		return DefaultReferenceWindows
	}
	return r.Windows
}

// pool turns one window's result of a label metric (accuracy, mae,
// rmse, log_loss) into a measurement over the labels of the last Windows
// windows: the new version's (to) own, and the previous version's
// (k.version) windows with labels, kept as its reference. At 500 answers
// an interval, half of them labelled one to three intervals late, a
// window holds 80 to 250 labels: too few to see a 10-point accuracy drop
// at 99.9% in one window, enough over six (bench/RESULTS.md, "behaviour
// checks"). min_requests then counts the pooled labels. The baseline is
// Reference when the previous version had no labels in this window.
func (r *References) pool(k refKey, to string, c *spec.Check, res Result) Measurement {
	if res.BaselineMoments.N > 0 {
		b := labelValue(c.Metric, res.BaselineMoments)
		r.keep(k, Result{Baseline: b, BaselineRequests: int64(res.BaselineMoments.N), BaselineMoments: res.BaselineMoments})
	}
	r.mu.Lock()
	if r.labels == nil {
		r.labels = map[refCheck]*labelPool{}
	}
	ck := refCheck{k.model, k.check}
	p := r.labels[ck]
	if p == nil || p.version != to {
		p = &labelPool{version: to}
		r.labels[ck] = p
	}
	p.windows = append(p.windows, res.Moments)
	if limit := r.limit(); len(p.windows) > limit {
		p.windows = append(p.windows[:0], p.windows[len(p.windows)-limit:]...)
	}
	var cur behaviour.Moments
	for _, w := range p.windows {
		cur.Merge(w)
	}
	windows := len(p.windows)
	r.mu.Unlock()

	m := Measurement{Check: c.Name, Version: to, Value: labelValue(c.Metric, cur), Requests: int64(cur.N),
		Moments: cur, Windows: windows}
	var base Result
	if n := r.fill(k, &base); n > 0 && base.BaselineMoments.N >= uint64(max(1, c.MinRequests)) {
		m.Baseline, m.BaselineRequests, m.HasBaseline = labelValue(c.Metric, base.BaselineMoments), int64(base.BaselineMoments.N), true
		m.BaselineMoments = base.BaselineMoments
		if res.BaselineMoments.N == 0 {
			m.Reference, m.ReferenceWindows = true, n
		}
	}
	return m
}

// forget drops the new versions' pooled labels of model (a model key):
// nothing is being rolled out, so the next rollout starts afresh.
func (r *References) forget(model string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ck := range r.labels {
		if ck.model == model {
			delete(r.labels, ck)
		}
	}
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
	mt.References.forget(m.Key())
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
			Result{Baseline: r.Value, BaselineRequests: r.Requests, HasBaseline: true, BaselineSketch: r.Sketch, BaselineMoments: r.Moments})
	}
	return errors.Join(errs...)
}
