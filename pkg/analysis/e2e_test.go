package analysis_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/analysis"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// TestMeasureBuiltinRouter measures a real builtin router over its admin
// API: requests through the data plane, stats back through
// StatsClient, judged as the engine would.
func TestMeasureBuiltinRouter(t *testing.T) {
	var v7hits, v8hits, v8errs atomic.Int64
	v7 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v7hits.Add(1)
		fmt.Fprint(w, `{"score":0.1}`)
	}))
	defer v7.Close()
	v8 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v8hits.Add(1)%5 == 0 { // every fifth request fails: 20% errors
			v8errs.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"score":0.2}`)
	}))
	defer v8.Close()

	rt := router.New(router.Options{Seed: 7})
	defer rt.Close()
	if err := rt.Update(traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v7": v7.URL, "v8": v8.URL},
		Weights:  []traffic.Weight{{Version: "v7", Percent: 50}, {Version: "v8", Percent: 50}},
	}}}); err != nil {
		t.Fatal(err)
	}
	data := httptest.NewServer(rt)
	defer data.Close()
	admin := httptest.NewServer(router.NewAdminHandler(rt, "tok"))
	defer admin.Close()

	for i := 0; i < 400; i++ {
		resp, err := data.Client().Get(data.URL + "/v1/fraud/predict")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	stats := (&analysis.StatsClient{BaseURL: admin.URL, Token: "tok", HTTP: admin.Client()}).Stats
	m := &spec.Model{Name: "fraud", Stage: "production", Checks: []*spec.Check{
		{Name: "errors", Metric: "error_rate", Source: "router", Max: ptr(0.05), MinRequests: 50},
		{Name: "latency", Metric: "latency_p99", Source: "router", Max: ptr(5)},
	}}
	meter := analysis.Meter{Sources: map[string]analysis.Source{"router": analysis.RouterSource{Stats: stats}}}
	got, err := meter.Measure(context.Background(), m, "v8", "v7", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e := got["errors"]
	if e.Requests != v8hits.Load() || e.BaselineRequests != v7hits.Load() || !e.HasBaseline || e.Baseline != 0 {
		t.Errorf("errors measurement %+v, backends saw v7 %d, v8 %d", e, v7hits.Load(), v8hits.Load())
	}
	if want := float64(v8errs.Load()) / float64(v8hits.Load()); e.Value != want {
		t.Errorf("error rate %v, want %v", e.Value, want)
	}
	if v, reason := analysis.Judge(m.Checks[0], e); v != analysis.Fail {
		t.Errorf("20%% errors against max 0.05: %v %s", v, reason)
	}
	if l := got["latency"]; !(l.Value > 0) || l.Requests != e.Requests {
		t.Errorf("latency measurement %+v", l)
	}
}

func ptr(v float64) *float64 { return &v }
