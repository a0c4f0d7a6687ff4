package wiring

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// requestLog counts the admin requests a router replica answered.
type requestLog struct {
	mu   sync.Mutex
	seen map[string]int // "GET /v1/stats" ...
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen[r.Method+" "+r.URL.Path]++
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) take(what string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.seen[what]
	delete(l.seen, what)
	return n
}

// Measuring many models on a fleet reads each replica once a pass (one
// batched POST /v1/stats), and each model gets its own summed stats.
func TestPrefetchReadsEachReplicaOnceAPass(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	const models = 20
	var table traffic.Table
	for i := 0; i < models; i++ {
		table.Routes = append(table.Routes, traffic.Route{Model: fmt.Sprintf("m%02d", i), Stage: "production", Path: fmt.Sprintf("/v1/m%02d", i),
			Backends: map[string]string{"v1": "http://127.0.0.1:1", "v2": "http://127.0.0.1:2"},
			Weights:  []traffic.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}})
	}
	var admins []string
	var logs []*requestLog
	var routers []*router.Router
	for i := 0; i < 2; i++ {
		rt := router.New(router.Options{Now: clock.Now})
		t.Cleanup(func() { rt.Close() })
		l := &requestLog{seen: map[string]int{}}
		srv := httptest.NewServer(l.wrap(router.NewAdminHandler(rt, "tok")))
		t.Cleanup(srv.Close)
		admins, logs, routers = append(admins, srv.URL), append(logs, l), append(routers, rt)
	}
	block := &spec.Router{Name: "edge", Type: "builtin", Admin: admins[0], Admins: admins, TokenEnv: "T"}
	rs := &Routers{Getenv: func(string) string { return "tok" }, Now: clock.Now}
	defer rs.Close()
	tgt, err := rs.Target(context.Background(), block)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(context.Background(), table); err != nil {
		t.Fatal(err)
	}
	tree := &spec.Tree{Routers: map[string]*spec.Router{"edge": block}}
	ms := &Measurer{Routers: rs}
	start := clock.t
	clock.t = clock.t.Add(1500 * time.Millisecond)
	var specs []*spec.Model
	states := map[string]rollout.ModelState{}
	for i := 0; i < models; i++ {
		m := &spec.Model{Name: fmt.Sprintf("m%02d", i), Stage: "production", Router: "edge"}
		specs = append(specs, m)
		states[m.Key()] = rollout.ModelState{Interval: time.Second, MeasuredAt: start,
			Experiment: &rollout.ExperimentState{StartedAt: start.Add(-time.Hour), Arms: []string{"v1", "v2"}}}
		// Model i's v2 has i rewards on each replica, in the window.
		for _, rt := range routers {
			for k := 0; k < i; k++ {
				if err := rt.Reward(m.Name, "production", "v2", 1); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	clock.t = clock.t.Add(time.Second)
	now := clock.t
	for _, l := range logs {
		l.take("GET /v1/stats")
	}
	tree.Models = specs
	ms.Prefetch(context.Background(), tree, states, now)
	for i, m := range specs {
		obs, err := ms.Observe(context.Background(), tree, m, states[m.Key()], now)
		if err != nil {
			t.Fatal(err)
		}
		if got := obs.Versions["v2"].Rewards; got != int64(2*i) {
			t.Errorf("%s: v2 has %d rewards, want %d (summed over both replicas)", m.Name, got, 2*i)
		}
	}
	for i, l := range logs {
		if posts, gets := l.take("POST /v1/stats"), l.take("GET /v1/stats"); posts != 1 || gets != 0 {
			t.Errorf("replica %d answered %d batched and %d single stats requests for %d models, want 1 and 0", i, posts, gets, models)
		}
	}
	// A window that Prefetch did not read (another time) is read alone.
	later := now.Add(2 * time.Second)
	if _, err := ms.Observe(context.Background(), tree, specs[3], states[specs[3].Key()], later); err != nil {
		t.Fatal(err)
	}
	if gets := logs[0].take("GET /v1/stats"); gets != 1 {
		t.Errorf("a window not read ahead: %d single requests to replica 0, want 1", gets)
	}
}
