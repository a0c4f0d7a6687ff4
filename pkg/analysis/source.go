package analysis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Query asks a metrics source for one check's value on one version of a
// model, and on its baseline (the previous version) over the same window.
type Query struct {
	Model, Stage string
	Version      string
	Baseline     string // "" for none
	// Metric is a router metric: error_rate, latency_p50, latency_p90,
	// latency_p99, ttfb_p50, ttfb_p90, ttfb_p99 or request_rate (router
	// source).
	Metric string
	// Expr is a PromQL template with {{version}}, {{model}} and {{stage}}
	// (Prometheus source).
	Expr string
	// Output is the JSON pointer a behaviour metric reads (router source).
	Output string
	Window time.Duration
	// MinRequests is the request count the baseline needs to count as one
	// (router source: a baseline on 3 requests is noise).
	MinRequests int
}

// Result is a source's answer to a Query.
type Result struct {
	Value            float64
	Requests         int64 // -1 when the source does not know
	Baseline         float64
	HasBaseline      bool
	BaselineRequests int64 // 0 when the source does not know
	// Sketch and BaselineSketch are the outputs behind output_drift
	// (router source); Meter turns them into the Measurement's Drift.
	Sketch, BaselineSketch *behaviour.Sketch
	// Moments and BaselineMoments are the per-answer moments behind
	// output_mean and the label metrics (router source). The baseline's
	// are given whenever it has any, even below MinRequests: label
	// metrics pool windows before counting.
	Moments, BaselineMoments behaviour.Moments
}

// Source reads metrics. The builtin router's stats (RouterSource) and the
// Prometheus HTTP API (Prometheus) implement it.
type Source interface {
	Query(ctx context.Context, q Query) (Result, error)
}

var (
	_ Source = RouterSource{}
	_ Source = (*Prometheus)(nil)
)

// snapshotter is a Source that can read everything it knows about a
// window at once (the router's stats), so that one Measure reads it once
// for all checks and every check sees the same window.
type snapshotter interface {
	Snapshot(ctx context.Context, window time.Duration) (Source, error)
}

// Meter measures a model's checks through named sources: "router" and
// each metrics block's name.
type Meter struct {
	Sources map[string]Source
	// References keeps the previous version's recent figures, so that a
	// check keeps a baseline once that version takes no traffic (the
	// final bake, all_at_once). nil: no baseline then.
	References *References
}

// Measure measures every check of m for version to over the last window,
// with from (the previous version; "" for none) as baseline, keyed by
// check name. A check whose source fails or is unknown is left out of the
// map, and the returned error names it; the others are still returned, so
// one broken source makes only its own checks lack data.
func (mt Meter) Measure(ctx context.Context, m *spec.Model, to, from string, window time.Duration) (map[string]Measurement, error) {
	out := make(map[string]Measurement, len(m.Checks))
	var errs []error
	snaps := map[string]Source{}
	snapErrs := map[string]error{}
	for _, c := range m.Checks {
		name := c.Source
		if name == "" {
			name = "router"
		}
		src, ok := mt.Sources[name]
		if !ok {
			errs = append(errs, fmt.Errorf("check %q of %s: no metrics source %q", c.Name, m.Key(), name))
			continue
		}
		if sn, ok := src.(snapshotter); ok {
			if _, done := snaps[name]; !done && snapErrs[name] == nil {
				snaps[name], snapErrs[name] = sn.Snapshot(ctx, window)
			}
			if err := snapErrs[name]; err != nil {
				errs = append(errs, fmt.Errorf("check %q of %s on %s: %w", c.Name, m.Key(), to, err))
				continue
			}
			src = snaps[name]
		}
		r, err := src.Query(ctx, Query{
			Model: m.Name, Stage: m.Stage, Version: to, Baseline: from,
			Metric: c.Metric, Expr: c.Query, Output: c.Output, Window: window, MinRequests: c.MinRequests,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("check %q of %s on %s: %w", c.Name, m.Key(), to, err))
			continue
		}
		meas := Measurement{
			Check: c.Name, Version: to, Value: r.Value,
			Baseline: r.Baseline, HasBaseline: r.HasBaseline, Requests: r.Requests,
			BaselineRequests: r.BaselineRequests, Moments: r.Moments, BaselineMoments: r.BaselineMoments,
		}
		if !r.HasBaseline {
			meas.BaselineMoments = behaviour.Moments{}
		}
		if from != "" && from != to && mt.References != nil && isLabelMetric(c.Metric) {
			meas = mt.References.pool(refKey{model: m.Key(), check: c.Name, version: from}, to, c, r)
		} else if from != "" && from != to && mt.References != nil && comparesWithPrevious(c) {
			key := refKey{model: m.Key(), check: c.Name, version: from}
			if r.HasBaseline {
				mt.References.keep(key, r)
			} else if n := mt.References.fill(key, &r); n > 0 {
				meas.Baseline, meas.HasBaseline, meas.BaselineRequests = r.Baseline, true, r.BaselineRequests
				meas.BaselineMoments = r.BaselineMoments
				meas.Reference, meas.ReferenceWindows = true, n
			}
		}
		if c.Metric == "output_drift" && r.Sketch != nil && r.BaselineSketch != nil {
			if d, ok := behaviour.Compare(*r.Sketch, *r.BaselineSketch); ok {
				meas.Drift, meas.Value = &d, d.PSI
			}
		}
		out[c.Name] = meas
	}
	return out, errors.Join(errs...)
}
