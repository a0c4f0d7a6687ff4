package wiring

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// TestLoneStandaloneRouterRestartedEmptyIsResynced: a router block with
// one admin URL gives the daemon a target it resyncs every pass whose
// table is unchanged, so a standalone router that restarts empty holds its
// table again after the next pass; the status lists it as a replica.
func TestLoneStandaloneRouterRestartedEmptyIsResynced(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	var live atomic.Pointer[router.Router]
	var admin atomic.Pointer[http.Handler]
	restart := func() { // a new, empty process behind the same address
		rt := router.New(router.Options{})
		t.Cleanup(func() { rt.Close() })
		h := router.NewAdminHandler(rt, "tok")
		live.Store(rt)
		admin.Store(&h)
	}
	restart()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*admin.Load()).ServeHTTP(w, r) }))
	defer srv.Close()

	rs := &Routers{Getenv: func(string) string { return "tok" }}
	defer rs.Close()
	block := &spec.Router{Name: "edge", Type: "builtin", Admin: srv.URL, Admins: []string{srv.URL}, TokenEnv: "EDGE_TOKEN"}
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
		t.Fatal(err)
	}
	rsync, ok := tgt.(reconcile.Resyncer)
	if !ok {
		t.Fatalf("a lone standalone router's target is a %T, which the daemon cannot resync", tgt)
	}
	restart()
	if n := len(live.Load().Table().Routes); n != 0 {
		t.Fatalf("the restarted router holds %d routes, want none", n)
	}
	if err := rsync.Resync(context.Background()); err != nil {
		t.Fatalf("resync: %v", err)
	}
	if got := live.Load().Table(); len(got.Routes) != 1 || got.Routes[0].Path != "/v1/fraud" {
		t.Fatalf("after one pass the restarted router holds %+v, want the fraud route", got)
	}
	if reps := rs.Fleets()["edge"]; len(reps) != 1 || !reps[0].InSync || reps[0].Admin != srv.URL {
		t.Errorf("status lists %+v for the lone router, want one replica in sync", reps)
	}
}
