package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// bigTable is a table of n canaries with four versions each, as a
// reconciler sends for n models.
func bigTable(n int) traffic.Table {
	t := traffic.Table{Routes: make([]traffic.Route, n)}
	for i := range t.Routes {
		m := fmt.Sprintf("model-%05d", i)
		t.Routes[i] = traffic.Route{
			Model: m, Stage: "prod", Path: "/v1/" + m,
			Backends: map[string]string{
				"v1": "http://127.0.0.1:9001/" + m, "v2": "http://127.0.0.1:9002/" + m,
				"v3": "http://127.0.0.1:9003/" + m, "v4": "http://127.0.0.1:9004/" + m,
			},
			Weights:  []traffic.Weight{{Version: "v1", Percent: 95}, {Version: "v2", Percent: 5}, {Version: "v3"}, {Version: "v4"}},
			Fallback: "v1",
		}
	}
	return t
}

// BenchmarkAdminPutTable10000 is one PUT /v1/routes of a 10,000-route
// table (40,000 versions) to a router that already serves it under the
// previous generation, as every step of a fleet sends; heap-MiB is the
// router's heap in use after GC with that table installed.
func BenchmarkAdminPutTable10000(b *testing.B) {
	rt := newTestRouter(b, Options{})
	h := NewAdminHandler(rt, "tok")
	t := bigTable(10000)
	put := func(gen uint64) {
		t.Generation = gen
		body, err := json.Marshal(t)
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPut, "/v1/routes", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("PUT: %d %s", w.Code, w.Body.String()[:min(w.Body.Len(), 300)])
		}
	}
	put(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		put(uint64(i + 2))
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// BenchmarkStatsOneModelOf10000 is what measuring one model costs on a
// router serving 10,000 (every version measured something): the stats of
// that model only (one) and, as every measurement read them before, of
// every model (all).
func BenchmarkStatsOneModelOf10000(b *testing.B) {
	clock := newFakeClock()
	rt := newTestRouter(b, Options{Now: clock.Now})
	if err := rt.Update(bigTable(10000)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		_ = rt.Reward(fmt.Sprintf("model-%05d", i), "prod", "v2", 1)
	}
	clock.Advance(time.Second)
	from, to := clock.Now().Add(-10*time.Second), clock.Now()
	b.Run("one", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if s := rt.ModelStatsRange("model-04242", "prod", from, to); len(s.Versions) != 4 {
				b.Fatalf("%d versions", len(s.Versions))
			}
		}
	})
	b.Run("all", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if s := rt.StatsRange(from, to); len(s.Versions) != 40000 {
				b.Fatalf("%d versions", len(s.Versions))
			}
		}
	})
}
