package analysis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// RangeFunc reads one router's stats of one model at one stage over the
// whole seconds [from, to).
type RangeFunc func(ctx context.Context, model, stage string, from, to time.Time) (traffic.Stats, error)

// FleetStats reads the stats of every replica of a router fleet and sums
// them. A window in which any replica could not be read, or in which
// Ready says the fleet was not whole (a replica behind or restarted), is
// an error: "no data", never a pass on part of the traffic.
type FleetStats struct {
	Replicas []RangeFunc
	// Ready, when set, says whether a window starting at from can be
	// measured at all (targets.Fleet.Measurable).
	Ready func(from time.Time) error
}

// StatsRange reads every replica at once and sums their stats of one
// model at one stage.
func (f FleetStats) StatsRange(ctx context.Context, model, stage string, from, to time.Time) (traffic.Stats, error) {
	if f.Ready != nil {
		if err := f.Ready(from); err != nil {
			return traffic.Stats{}, fmt.Errorf("no data for the window: %w", err)
		}
	}
	parts, errs := eachReplica(f.Replicas, func(read RangeFunc) (traffic.Stats, error) {
		return read(ctx, model, stage, from, to)
	})
	if err := errors.Join(errs...); err != nil {
		return traffic.Stats{}, fmt.Errorf("no data for the window: a replica could not be read: %w", err)
	}
	if f.Ready != nil {
		// Read after the stats too: a replica resynced meanwhile lost part
		// of what it just reported.
		if err := f.Ready(from); err != nil {
			return traffic.Stats{}, fmt.Errorf("no data for the window: %w", err)
		}
	}
	return SumStats(parts...), nil
}

// BatchFunc reads many models' stats from one router in one request.
type BatchFunc func(ctx context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, error)

// FleetBatch is FleetStats for many models at once: one batched read per
// replica, summed per query. Each answer is as StatsRange would give it:
// a replica that could not be read makes every query's answer an error,
// a window in which the fleet was not whole makes that query's one.
type FleetBatch struct {
	Replicas []BatchFunc
	Ready    func(from time.Time) error
}

// Batch reads every replica at once and sums their answers per query.
func (f FleetBatch) Batch(ctx context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, []error) {
	parts, errs := eachReplica(f.Replicas, func(read BatchFunc) ([]traffic.Stats, error) {
		return read(ctx, qs)
	})
	out, outErrs := make([]traffic.Stats, len(qs)), make([]error, len(qs))
	readErr := errors.Join(errs...)
	for q := range qs {
		if readErr != nil {
			outErrs[q] = fmt.Errorf("no data for the window: a replica could not be read: %w", readErr)
			continue
		}
		if f.Ready != nil {
			if err := f.Ready(time.Unix(qs[q].From, 0)); err != nil {
				outErrs[q] = fmt.Errorf("no data for the window: %w", err)
				continue
			}
		}
		each := make([]traffic.Stats, len(parts))
		for r := range parts {
			each[r] = parts[r][q]
		}
		out[q] = SumStats(each...)
	}
	return out, outErrs
}

// eachReplica reads every replica at once.
func eachReplica[F, T any](replicas []F, read func(F) (T, error)) ([]T, []error) {
	out, errs := make([]T, len(replicas)), make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = read(r)
		}()
	}
	wg.Wait()
	return out, errs
}

// SumStats adds up the stats several replicas measured over the same
// window. Counts and sums add; rates add; a latency quantile of the whole
// is at most the largest replica's, which is what is kept (a check on it
// errs on the safe side); latency samples are pooled.
func SumStats(parts ...traffic.Stats) traffic.Stats {
	var out traffic.Stats
	index := map[[3]string]int{}
	for _, p := range parts {
		out.Window = max(out.Window, p.Window)
		for _, v := range p.Versions {
			k := [3]string{v.Model, v.Stage, v.Version}
			i, ok := index[k]
			if !ok {
				index[k] = len(out.Versions)
				c := v
				c.LatencySample = append([]float64(nil), v.LatencySample...)
				out.Versions = append(out.Versions, c)
				continue
			}
			s := &out.Versions[i]
			s.Requests += v.Requests
			s.Errors += v.Errors
			s.Fallbacks += v.Fallbacks
			s.RequestRate += v.RequestRate
			s.LatencyP50 = max(s.LatencyP50, v.LatencyP50)
			s.LatencyP90 = max(s.LatencyP90, v.LatencyP90)
			s.LatencyP99 = max(s.LatencyP99, v.LatencyP99)
			s.TTFBP50 = max(s.TTFBP50, v.TTFBP50)
			s.TTFBP90 = max(s.TTFBP90, v.TTFBP90)
			s.TTFBP99 = max(s.TTFBP99, v.TTFBP99)
			s.ShadowPairs += v.ShadowPairs
			s.ShadowAgreements += v.ShadowAgreements
			s.ShadowErrors += v.ShadowErrors
			s.ShadowDropped += v.ShadowDropped
			s.ShadowLatencyP50 = max(s.ShadowLatencyP50, v.ShadowLatencyP50)
			s.ShadowLatencyP90 = max(s.ShadowLatencyP90, v.ShadowLatencyP90)
			s.ShadowLatencyP99 = max(s.ShadowLatencyP99, v.ShadowLatencyP99)
			s.Rewards += v.Rewards
			s.RewardSum += v.RewardSum
			s.RewardSumSq += v.RewardSumSq
			s.LatencySample = append(s.LatencySample, v.LatencySample...)
		}
	}
	return out
}
