package wiring_test

import (
	"slices"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// BenchmarkLeaderFailoverKill9 measures leader failover with real
// processes: etcd, two reconcilers (lease TTL 2s, tick 100ms) and a
// standalone router, a canary held at its first step. Each iteration
// kills the leader with SIGKILL and times until the router receives the
// new leader's first table (the same step under a new generation: the new
// leader has resumed and applied traffic), then starts the killed one
// again as the standby. It reports the median and worst over b.N kills.
//
//	go test -run '^$' -bench LeaderFailoverKill9 -benchtime 20x ./pkg/wiring/
func BenchmarkLeaderFailoverKill9(b *testing.B) {
	w := newHAWorld(b, 0, "[10, 50]", "1h")
	w.git.CommitAs("specs", "Promote fraud v2", map[string]string{"rollouts/fraud.hcl": w.spec("v2")})
	waitUntil(b, "the canary at its first step", func() bool { return v2Weight(w.rt.Table()) == 10 })
	leader, standby := "a", "b"
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		waitUntil(b, "one leader and one standby", func() bool { return w.role(leader) == "leader" && w.role(standby) == "standby" })
		n, gen := w.log.len(), w.rt.Table().Generation
		killed := time.Now()
		w.procs[leader].kill()
		var got traffic.Table
		var at time.Time
		waitUntil(b, "the new leader's first table", func() bool {
			w.log.mu.Lock()
			defer w.log.mu.Unlock()
			for j := n; j < len(w.log.tables); j++ {
				if w.log.tables[j].Generation > gen {
					got, at = w.log.tables[j], w.log.at[j]
					return true
				}
			}
			return false
		})
		if v := v2Weight(got); v != 10 {
			b.Fatalf("kill %d: the new leader's first table gives v2 %g%%, want the step it was at (10%%)", i+1, v)
		}
		took = append(took, at.Sub(killed))
		w.procs[leader] = startProc(b, w.env[leader]...)
		leader, standby = standby, leader
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "median-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "worst-s")
	b.Logf("kill -9 to the new leader's first table, %d kills, sorted: %v", len(took), took)
}
