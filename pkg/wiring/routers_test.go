package wiring

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// TestTwoBuiltinRoutersShareTheMetricsRegistry checks that every in-process
// router's series reach the reconciler's registry, told apart by name.
func TestTwoBuiltinRoutersShareTheMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	rs := &Routers{Registerer: reg}
	defer rs.Close()
	for _, name := range []string{"edge", "internal"} {
		if _, err := rs.Target(context.Background(), &spec.Router{Name: name, Type: "builtin", Listen: "127.0.0.1:0"}); err != nil {
			t.Fatalf("router %s: %v", name, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "router" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	if !seen["edge"] || !seen["internal"] {
		t.Fatalf("series by router: %v, want both edge and internal", seen)
	}
}

// TestStandaloneRouterDrivenOverItsAdminAPI drives a standalone builtin
// router (router block with admin and token_env) through its admin API:
// the table reaches it, and its stats come back for measuring.
func TestStandaloneRouterDrivenOverItsAdminAPI(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	rt := router.New(router.Options{})
	defer rt.Close()
	data := httptest.NewServer(rt)
	defer data.Close()
	admin := httptest.NewServer(router.NewAdminHandler(rt, "tok"))
	defer admin.Close()

	rs := &Routers{Getenv: func(k string) string {
		if k == "EDGE_TOKEN" {
			return "tok"
		}
		return ""
	}}
	defer rs.Close()
	block := &spec.Router{Name: "edge", Type: "builtin", Admin: admin.URL, TokenEnv: "EDGE_TOKEN"}
	tgt, err := rs.Target(context.Background(), block)
	if err != nil {
		t.Fatal(err)
	}
	table := traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v1": backend.URL},
		Weights:  []traffic.Weight{{Version: "v1", Percent: 100}},
	}}}
	if err := tgt.Apply(context.Background(), table); err != nil {
		t.Fatalf("apply over the admin API: %v", err)
	}
	if got := rt.Table(); len(got.Routes) != 1 || got.Routes[0].Path != "/v1/fraud" {
		t.Fatalf("the standalone router holds %+v", got)
	}
	// The window starts once the router has its first table: one that
	// held none before may have lost its measurements (it restarted
	// empty), so an earlier start is no data.
	from := time.Now()
	for i := 0; i < 5; i++ {
		resp, err := http.Get(data.URL + "/v1/fraud/predict")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	st, err := rs.StatsRange(context.Background(), block, "fraud", "production", from, time.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("stats over the admin API: %v", err)
	}
	if vs, ok := st.Find("fraud", "production", "v1"); !ok || vs.Requests != 5 {
		t.Fatalf("stats %+v, want 5 requests on v1", st)
	}
}

// TestInProcessRouterTakesItsFeedbackToken checks that feedback_token_env
// reaches the router the reconciler serves itself, and that an unset
// variable stops it from starting without a token.
func TestInProcessRouterTakesItsFeedbackToken(t *testing.T) {
	env := map[string]string{"FB_TOKEN": "s3cret"}
	rs := &Routers{Getenv: func(k string) string { return env[k] }}
	defer rs.Close()
	r := &spec.Router{Name: "edge", Type: "builtin", Listen: "127.0.0.1:0", FeedbackTokenEnv: "FB_TOKEN"}
	e, err := rs.entry(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) int {
		req := httptest.NewRequest("POST", router.FeedbackPath, strings.NewReader(`{"reward":1}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		e.inproc.ServeHTTP(w, req)
		return w.Code
	}
	// With the token the post gets past it, to the missing request id.
	for auth, want := range map[string]int{"": 401, "Bearer nope": 401, "Bearer s3cret": 400} {
		if got := post(auth); got != want {
			t.Errorf("feedback with Authorization %q: %d, want %d", auth, got, want)
		}
	}
	r2 := &spec.Router{Name: "other", Type: "builtin", Listen: "127.0.0.1:0", FeedbackTokenEnv: "UNSET"}
	if _, err := rs.entry(context.Background(), r2); err == nil || !strings.Contains(err.Error(), "UNSET") {
		t.Errorf("feedback_token_env naming an unset variable: %v, want an error naming it", err)
	}
}
