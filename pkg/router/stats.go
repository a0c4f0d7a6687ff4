package router

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Latency histograms are log-spaced: bucket i holds latencies in
// [histMin·histFactor^i, histMin·histFactor^(i+1)), from 1µs to about 80s.
const (
	histBuckets = 100
	histMin     = 1e-6 // seconds
	histFactor  = 1.2
	sampleSize  = 1024 // latencies kept per version for rank tests
)

var logHistFactor = math.Log(histFactor)

func histIndex(seconds float64) int {
	if seconds <= histMin {
		return 0
	}
	i := int(math.Log(seconds/histMin) / logHistFactor)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histQuantile returns the q-quantile of a histogram, interpolating
// geometrically inside the bucket that holds it; 0 when it is empty.
func histQuantile(h *[histBuckets]uint64, total uint64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		next := cum + float64(c)
		if next >= rank {
			frac := (rank - cum) / float64(c)
			lo := histMin * math.Pow(histFactor, float64(i))
			return lo * math.Pow(histFactor, frac)
		}
		cum = next
	}
	return histMin * math.Pow(histFactor, histBuckets)
}

// bucket is one second of one version's live measurements.
type bucket struct {
	sec         int64
	requests    int64
	errors      int64
	fallbacks   int64
	hist        [histBuckets]uint32
	ttfb        [histBuckets]uint32 // time to the answer body's first byte
	rewards     int64
	rewardSum   float64
	rewardSumSq float64
}

// shadowBucket is one second of a shadow version's comparisons.
type shadowBucket struct {
	sec     int64
	pairs   int64
	agree   int64
	errors  int64
	dropped int64
	hist    [histBuckets]uint32
}

type sample struct {
	sec     int64
	seconds float64
}

// versionStats holds one model/stage/version's measurements: a ring of
// per-second buckets (so that a window covers the last seconds, not the time
// since start), a bounded latency sample, the cumulative rewards the bandit
// learns from, and its Prometheus series.
type versionStats struct {
	model, stage, version string
	ref                   uint32 // versionRef, named in request ids
	// prom is created on the version's first measurement: a table of
	// 10,000 routes then costs no Prometheus series until traffic comes.
	prom    atomic.Pointer[versionMetrics]
	metrics *metrics

	horizon int // seconds kept

	mu      sync.Mutex
	ring    []bucket       // allocated on first use
	shadows []shadowBucket // allocated on first use: most versions are never shadows
	samples []sample       // sampleSize, allocated on first use
	nextS   int
	// cumulative rewards, for the bandit's posteriors
	totalRewards   float64
	totalRewardSum float64
	outputs        *outputStats // model behaviour (outputs.go); nil until read
}

func newVersionStats(model, stage, version string, horizon int, m *metrics) *versionStats {
	return &versionStats{
		model: model, stage: stage, version: version,
		ref:     versionRef(model, stage, version),
		horizon: horizon,
		metrics: m,
	}
}

// series returns the version's Prometheus series, created on first use.
func (s *versionStats) series() *versionMetrics {
	if v := s.prom.Load(); v != nil {
		return v
	}
	// Two first uses at once resolve the same series; one pointer wins.
	s.prom.CompareAndSwap(nil, s.metrics.forVersion(s.model, s.stage, s.version))
	return s.prom.Load()
}

// at returns the bucket of second sec, reset if it held an older second.
// The caller holds s.mu.
func (s *versionStats) at(sec int64) *bucket {
	if s.ring == nil {
		s.ring = make([]bucket, s.horizon)
	}
	b := &s.ring[int(sec%int64(s.horizon))]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	return b
}

// shadowAt is at for the shadow ring. The caller holds s.mu.
func (s *versionStats) shadowAt(sec int64) *shadowBucket {
	if s.shadows == nil {
		s.shadows = make([]shadowBucket, s.horizon)
	}
	b := &s.shadows[int(sec%int64(s.horizon))]
	if b.sec != sec {
		*b = shadowBucket{sec: sec}
	}
	return b
}

// recordRequest counts one attempt answered with code after latency;
// ttfb is the time to the first byte of the answer's body, negative when
// the version sent none.
func (s *versionStats) recordRequest(now time.Time, latency, ttfb time.Duration, code int, isErr, fellBack bool) {
	sec := now.Unix()
	lat := latency.Seconds()
	idx := histIndex(lat)
	// Prometheus first: whoever sees the measurement in the stats finds
	// it in the metrics too.
	s.series().observe(code, lat, fellBack)
	s.mu.Lock()
	b := s.at(sec)
	b.requests++
	if isErr {
		b.errors++
	}
	if fellBack {
		b.fallbacks++
	}
	b.hist[idx]++
	if ttfb >= 0 {
		b.ttfb[histIndex(ttfb.Seconds())]++
	}
	if s.samples == nil {
		s.samples = make([]sample, sampleSize)
	}
	s.samples[s.nextS] = sample{sec: sec, seconds: lat}
	s.nextS = (s.nextS + 1) % sampleSize
	s.mu.Unlock()
}

// Shadow outcomes.
const (
	shadowAgree    = "agree"
	shadowDisagree = "disagree"
	shadowError    = "error"
	shadowDropped  = "dropped"
)

// recordShadow counts one shadow copy's outcome; a shadow error is a pair
// that disagrees, so that a failing shadow can never pass an assessment.
func (s *versionStats) recordShadow(now time.Time, result string, latency time.Duration) {
	s.series().shadow(result, latency.Seconds())
	s.mu.Lock()
	b := s.shadowAt(now.Unix())
	switch result {
	case shadowDropped:
		b.dropped++
	default:
		b.pairs++
		b.hist[histIndex(latency.Seconds())]++
		switch result {
		case shadowAgree:
			b.agree++
		case shadowError:
			b.errors++
		}
	}
	s.mu.Unlock()
}

func (s *versionStats) recordReward(now time.Time, reward float64) {
	s.series().reward(reward)
	s.mu.Lock()
	b := s.at(now.Unix())
	b.rewards++
	b.rewardSum += reward
	b.rewardSumSq += reward * reward
	s.totalRewards++
	s.totalRewardSum += reward
	s.mu.Unlock()
}

// posterior returns the Beta posterior parameters from all rewards so far,
// starting from Beta(1,1).
func (s *versionStats) posterior() (alpha, beta float64) {
	s.mu.Lock()
	n, sum := s.totalRewards, s.totalRewardSum
	s.mu.Unlock()
	return 1 + sum, 1 + n - sum
}

// snapshot sums the buckets of the last window seconds ending at now
// (the current second included).
func (s *versionStats) snapshot(now time.Time, window time.Duration) traffic.VersionStats {
	secs := int64(math.Ceil(window.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return s.sum(now.Unix()-secs+1, now.Unix())
}

// sum adds up the buckets of the whole seconds oldest..newest (at most
// the horizon's).
func (s *versionStats) sum(oldest, nowSec int64) traffic.VersionStats {
	if nowSec-oldest+1 > int64(s.horizon) {
		oldest = nowSec - int64(s.horizon) + 1
	}
	secs := max(nowSec-oldest+1, 1)
	out := traffic.VersionStats{Model: s.model, Stage: s.stage, Version: s.version}
	var hist, shist, thist [histBuckets]uint64
	var total, stotal, ttotal uint64
	s.mu.Lock()
	for i := range s.ring {
		b := &s.ring[i]
		if b.sec < oldest || b.sec > nowSec {
			continue
		}
		out.Requests += b.requests
		out.Errors += b.errors
		out.Fallbacks += b.fallbacks
		out.Rewards += b.rewards
		out.RewardSum += b.rewardSum
		out.RewardSumSq += b.rewardSumSq
		for j, c := range b.hist {
			hist[j] += uint64(c)
		}
		for j, c := range b.ttfb {
			thist[j] += uint64(c)
		}
	}
	for i := range s.shadows {
		b := &s.shadows[i]
		if b.sec < oldest || b.sec > nowSec {
			continue
		}
		out.ShadowPairs += b.pairs
		out.ShadowAgreements += b.agree
		out.ShadowErrors += b.errors
		out.ShadowDropped += b.dropped
		for j, c := range b.hist {
			shist[j] += uint64(c)
		}
	}
	for _, sm := range s.samples {
		if sm.sec >= oldest && sm.sec <= nowSec && sm.sec != 0 {
			out.LatencySample = append(out.LatencySample, sm.seconds)
		}
	}
	outputs := s.outputs
	s.mu.Unlock()
	outputs.sumOutputs(&out, oldest, nowSec)
	for j := range hist {
		total += hist[j]
		stotal += shist[j]
		ttotal += thist[j]
	}
	out.RequestRate = float64(out.Requests) / float64(secs)
	out.LatencyP50 = histQuantile(&hist, total, 0.50)
	out.LatencyP90 = histQuantile(&hist, total, 0.90)
	out.LatencyP99 = histQuantile(&hist, total, 0.99)
	out.TTFBP50 = histQuantile(&thist, ttotal, 0.50)
	out.TTFBP90 = histQuantile(&thist, ttotal, 0.90)
	out.TTFBP99 = histQuantile(&thist, ttotal, 0.99)
	out.ShadowLatencyP50 = histQuantile(&shist, stotal, 0.50)
	out.ShadowLatencyP90 = histQuantile(&shist, stotal, 0.90)
	out.ShadowLatencyP99 = histQuantile(&shist, stotal, 0.99)
	sort.Float64s(out.LatencySample)
	return out
}
