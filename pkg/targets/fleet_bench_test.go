package targets

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"
)

// BenchmarkFleetRestore5 is the restore latency of a 5-replica fleet: the
// time from Apply of a table that takes the canary out until every
// replica (standalone routers over HTTP on 127.0.0.1) acknowledged it.
func BenchmarkFleetRestore5(b *testing.B) {
	reps := make([]*replicaServer, 5)
	for i := range reps {
		reps[i] = newReplica(b)
	}
	var log syncBuffer
	f := newBenchFleet(b, &log, reps...)
	split := splitter(b)
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := f.Apply(ctx, split(50)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := f.Apply(ctx, split(0)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func newBenchFleet(b *testing.B, log *syncBuffer, reps ...*replicaServer) *Fleet {
	f, err := NewFleet(fleetSpec(reps...), Deps{Getenv: func(string) string { return "s3cret" }, Logger: slog.New(slog.NewTextHandler(log, nil))}.withDefaults())
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkFleetFirstRestoreWithAHungReplica is a new leader's first
// Apply, a restore, on a fleet of 5 replicas one of which hangs (accepts,
// never answers; replica timeout 200ms): the time until the 4 live
// replicas serve the restore. The Apply itself returns when the hung
// replica's call ends at its timeout.
func BenchmarkFleetFirstRestoreWithAHungReplica(b *testing.B) {
	live := make([]*replicaServer, 4)
	for i := range live {
		live[i] = newReplica(b)
	}
	hung := newHungEndpoint(b, "tcp", "127.0.0.1:0", nil)
	hung.setMode("hang")
	r := fleetSpec(live...)
	r.Admins = append([]string{"http://" + hung.ln.Addr().String()}, r.Admins...)
	split := splitter(b)
	ctx := context.Background()
	var log syncBuffer
	newLeader := func() *Fleet {
		f, err := NewFleet(r, Deps{Getenv: func(string) string { return "s3cret" }, ReplicaTimeout: 200 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&log, nil))}.withDefaults())
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	restored := func() bool {
		for _, rep := range live {
			if weightOf(rep.table(), "v8") != 0 {
				return false
			}
		}
		return true
	}
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_ = newLeader().Apply(ctx, split(50)) // the hung replica fails it
		f := newLeader()
		b.StartTimer()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- f.Apply(ctx, split(0)) }()
		for !restored() {
			time.Sleep(20 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		<-done
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "worst-µs")
}
