package ha

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/ha/etcdtest"
)

// BenchmarkFailover is the time from a leader's crash (its client gone
// without resigning, as with kill -9) until the standby campaigning beside
// it wins, with a 2s lease: median and worst over b.N crashes. Run it with
// -benchtime 20x.
func BenchmarkFailover(b *testing.B) {
	srv := etcdtest.Start(b)
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		leader := mustConnect(b, srv, "leader")
		if _, err := leader.Campaign(context.Background()); err != nil {
			b.Fatal(err)
		}
		standby := mustConnect(b, srv, "standby")
		won := make(chan *Term, 1)
		go func() {
			t, err := standby.Campaign(context.Background())
			if err != nil {
				b.Error(err)
			}
			won <- t
		}()
		time.Sleep(200 * time.Millisecond) // the standby's key is queued
		crash := time.Now()
		leader.Close() // no resign, no revoke: the lease runs out
		t := <-won
		if t == nil {
			b.FailNow()
		}
		lat = append(lat, time.Since(crash))
		_ = t.Resign(context.Background())
		standby.Close()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "worst-ms")
}

func mustConnect(b *testing.B, srv *etcdtest.Server, id string) *Node {
	n, err := Connect(Config{Endpoints: []string{srv.Endpoint}, Prefix: "/bench", ID: id, LeaseTTL: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
