package wiring

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time { return c.t }

// The experiment's windows tile time: every reward is counted once however
// uneven the measurements, and none from the second the experiment started
// in (the control then still took every request).
func TestMeasurerCountsEachRewardOnceFromTheExperimentsStart(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	rt := router.New(router.Options{Now: clock.Now})
	defer rt.Close()
	admin := httptest.NewServer(router.NewAdminHandler(rt, "tok"))
	defer admin.Close()
	if err := rt.Update(traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v1": "http://127.0.0.1:1", "v2": "http://127.0.0.1:2"},
		Weights:  []traffic.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}},
	}}}); err != nil {
		t.Fatal(err)
	}
	block := &spec.Router{Name: "edge", Type: "builtin", Admin: admin.URL, TokenEnv: "T"}
	rs := &Routers{Getenv: func(string) string { return "tok" }}
	defer rs.Close()
	tree := &spec.Tree{Routers: map[string]*spec.Router{"edge": block}}
	ms := &Measurer{Routers: rs}
	m := &spec.Model{Name: "fraud", Stage: "production", Router: "edge"}

	// v2 alone took feedback until the experiment started at 10:00:00.4.
	start := clock.t
	reward := func(version string) {
		if err := rt.Reward("fraud", "production", version, 1); err != nil {
			t.Fatal(err)
		}
	}
	reward("v2")
	clock.t = start.Add(400 * time.Millisecond)
	st := rollout.ModelState{Interval: time.Second, MeasuredAt: clock.t,
		Experiment: &rollout.ExperimentState{StartedAt: clock.t, Arms: []string{"v1", "v2"}}}
	// Then one reward per arm every 100 ms, measured at uneven times.
	counted := map[string]int64{}
	sent := int64(0)
	for _, at := range []time.Duration{1500, 2700, 3100, 4900, 6000, 7300} {
		for clock.t.Before(start.Add(at * time.Millisecond)) {
			if clock.t.Sub(start) >= time.Second { // the start's second is not the experiment's
				sent++
			}
			reward("v1")
			reward("v2")
			clock.t = clock.t.Add(100 * time.Millisecond)
		}
		obs, err := ms.Observe(context.Background(), tree, m, st, clock.t)
		if err != nil {
			t.Fatal(err)
		}
		for v, vs := range obs.Versions {
			counted[v] += vs.Rewards
		}
		if !clock.t.Before(st.MeasuredAt.Add(st.Interval)) {
			st.MeasuredAt = clock.t // a measurement was due, as the engine does
		}
	}
	// The last window ends at 10:00:07, leaving the running second out.
	want := sent - 3
	if counted["v1"] != want || counted["v2"] != want {
		t.Fatalf("counted v1 %d, v2 %d rewards, want %d each", counted["v1"], counted["v2"], want)
	}
}
