package analysis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func replicaStats(requests, errs int64, p99 float64) RangeFunc {
	return func(context.Context, string, string, time.Time, time.Time) (traffic.Stats, error) {
		return traffic.Stats{Window: 10 * time.Second, Versions: []traffic.VersionStats{
			{Model: "m", Stage: "production", Version: "v8", Requests: requests, Errors: errs, LatencyP99: p99, LatencySample: []float64{p99}},
		}}, nil
	}
}

func TestFleetStatsSumsReplicas(t *testing.T) {
	from, to := time.Unix(100, 0), time.Unix(110, 0)
	f := FleetStats{Replicas: []RangeFunc{replicaStats(100, 1, 0.2), replicaStats(50, 4, 0.5), replicaStats(0, 0, 0)}}
	s, err := f.StatsRange(context.Background(), "m", "production", from, to)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := s.Find("m", "production", "v8")
	if !ok || v.Requests != 150 || v.Errors != 5 || v.LatencyP99 != 0.5 || len(v.LatencySample) != 3 {
		t.Fatalf("summed %+v, want 150 requests, 5 errors, p99 0.5, 3 samples", v)
	}
}

func TestFleetStatsWithAReplicaMissingIsNoData(t *testing.T) {
	from, to := time.Unix(100, 0), time.Unix(110, 0)
	down := func(context.Context, string, string, time.Time, time.Time) (traffic.Stats, error) {
		return traffic.Stats{}, errors.New("connection refused")
	}
	f := FleetStats{Replicas: []RangeFunc{replicaStats(100, 0, 0.1), down}}
	if _, err := f.StatsRange(context.Background(), "m", "production", from, to); err == nil || !strings.Contains(err.Error(), "no data") {
		t.Fatalf("one replica unreadable: %v, want no data", err)
	}
	f = FleetStats{Replicas: []RangeFunc{replicaStats(100, 0, 0.1)}, Ready: func(time.Time) error { return errors.New("replica b restarted") }}
	if _, err := f.StatsRange(context.Background(), "m", "production", from, to); err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("fleet not whole: %v, want no data naming why", err)
	}
	// The meter turns the error into "no data" for the router's checks.
	src := RouterSource{Stats: func(ctx context.Context, w time.Duration) (traffic.Stats, error) {
		return f.StatsRange(ctx, "m", "production", from, to)
	}}
	if _, err := src.Snapshot(context.Background(), 10*time.Second); err == nil {
		t.Fatal("a snapshot of a fleet that is not whole succeeded")
	}
}

func TestFleetBatchSumsPerQuery(t *testing.T) {
	replica := func(requests int64) BatchFunc {
		return func(_ context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, error) {
			out := make([]traffic.Stats, len(qs))
			for i, q := range qs {
				out[i] = traffic.Stats{Versions: []traffic.VersionStats{{Model: q.Model, Stage: q.Stage, Version: "v1", Requests: requests * int64(i+1)}}}
			}
			return out, nil
		}
	}
	qs := []traffic.StatsQuery{{Model: "a", Stage: "p", From: 100, To: 110}, {Model: "b", Stage: "p", From: 50, To: 110}}
	f := FleetBatch{Replicas: []BatchFunc{replica(10), replica(5)}, Ready: func(from time.Time) error {
		if from.Unix() < 100 {
			return errors.New("replica x was given the table again at 100")
		}
		return nil
	}}
	stats, errs := f.Batch(context.Background(), qs)
	if v, _ := stats[0].Find("a", "p", "v1"); errs[0] != nil || v.Requests != 15 {
		t.Errorf("query a: %+v %v, want 15 requests summed", v, errs[0])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "no data") {
		t.Errorf("query b, whose window the fleet was not whole for: %v, want no data", errs[1])
	}
	f.Replicas = append(f.Replicas, func(context.Context, []traffic.StatsQuery) ([]traffic.Stats, error) {
		return nil, errors.New("connection refused")
	})
	if _, errs := f.Batch(context.Background(), qs); errs[0] == nil || errs[1] == nil {
		t.Errorf("a replica down: %v, want no data for every query", errs)
	}
}
