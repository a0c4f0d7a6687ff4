package wiring_test

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkWebhookToTraffic: a commit is pushed to the git server, the
// signed push webhook arrives, and the builtin router answers from the new
// version (all_at_once). Reports the median of b.N changes.
func BenchmarkWebhookToTraffic(b *testing.B) {
	e := newE2E(b)
	var samples []time.Duration
	serve := []string{"v2", "v1"}
	for i := 0; i < b.N; i++ {
		want := serve[i%2]
		e.git.CommitAs(e2eRepo, "Switch to "+want, map[string]string{"rollouts/fraud.hcl": e.spec(want, "")})
		start := time.Now()
		e.webhook(e.secret)
		for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); {
			if e.ask() == want {
				break
			}
		}
		samples = append(samples, time.Since(start))
		e.waitServing(want)
	}
	report(b, samples)
}

// BenchmarkRestoredToRevertOnRemote: a bad version fails its check; from
// the moment traffic is restored (status held) to the revert commit on
// the remote's main. Reports the median of b.N failures.
func BenchmarkRestoredToRevertOnRemote(b *testing.B) {
	e := newE2E(b)
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		e.push("Promote fraud v2", "v2", "")
		e.waitServing("v2")
		e.push("Promote fraud v3", "v3", "")
		e.waitFor("traffic restored", func() bool { m := e.status(); return m.Held && weight(m, "v2") == 100 })
		start := time.Now()
		for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if strings.Contains(e.headMessage(), "Switchyard-Action: rollback") {
				break
			}
		}
		samples = append(samples, time.Since(start))
		e.waitFor("Git to agree", func() bool { m := e.status(); return m.Serve == "v2" && !m.Held })
		e.push("Back to v1", "v1", "")
		e.waitServing("v1")
	}
	report(b, samples)
}

func report(b *testing.B, samples []time.Duration) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "ms-max")
}
