package router

import (
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/grpctest"
	"github.com/switchyard-dev/switchyard/pkg/tlstest"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// The gRPC tests run a real gRPC server and client (pkg/grpctest).

var grpcServer, grpcCall = grpctest.Serve, grpctest.Call

type grpcResult = grpctest.Result

// grpcRoute routes the predict service (its calls' paths start with it)
// to versions at h2c:// URLs that carry the same path.
func grpcRoute(versions map[string]string, ws []traffic.Weight) traffic.Route {
	bs := map[string]string{}
	for v, addr := range versions {
		bs[v] = "h2c://" + addr + "/switchyard.test.Predictor"
	}
	return traffic.Route{Model: "m", Stage: "prod", Path: "/switchyard.test.Predictor", Backends: bs, Weights: ws}
}

func oneCall(t *testing.T, rs []grpcResult) grpcResult {
	t.Helper()
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(rs), rs)
	}
	return rs[0]
}

func TestGRPCUnaryThroughTheRouterOverH2C(t *testing.T) {
	v1 := grpcServer(t, "v1", 0)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, grpcRoute(map[string]string{"v1": v1}, weights("v1", 100)))
	front := stdAddr(serve(t, rt))

	r := oneCall(t, grpcCall(t, front, "hi"))
	if r.Code != "OK" || len(r.Answers) != 1 || r.Answers[0] != "v1:hi" || r.Trailers["x-version"] != "v1" {
		t.Fatalf("call through the router: %+v", r)
	}
	st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "prod", "v1")
	if st.Requests != 1 || st.Errors != 0 {
		t.Fatalf("stats %+v, want 1 request and no error", st)
	}

	// A server-streaming call streams through, trailers at its end.
	r = oneCall(t, grpcCall(t, front, "s", "--stream"))
	if r.Code != "OK" || strings.Join(r.Answers, ",") != "v1:0:s,v1:1:s,v1:2:s" || r.Trailers["x-version"] != "v1" {
		t.Fatalf("streaming call: %+v", r)
	}
}

func TestGRPCStatusIsAnErrorAndTrailersReachTheClient(t *testing.T) {
	bad := grpcServer(t, "v2", 13)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, grpcRoute(map[string]string{"v2": bad}, weights("v2", 100)))
	front := stdAddr(serve(t, rt))

	rs := grpcCall(t, front, "hi", "--count", "3")
	for _, r := range rs {
		if r.Code != "INTERNAL" || r.Details != "v2 fails" || r.Trailers["x-version"] != "v2" {
			t.Fatalf("failed call through the router: %+v", r)
		}
	}
	st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "prod", "v2")
	if st.Requests != 3 || st.Errors != 3 {
		t.Fatalf("stats %+v, want 3 requests, 3 errors", st)
	}
	rec := httptest.NewRecorder()
	rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `switchyard_grpc_calls_total{grpc_status="13",model="m",stage="prod",version="v2"} 3`
	if !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s:\n%s", want, rec.Body.String())
	}
}

func TestGRPCStickyByMetadataKey(t *testing.T) {
	v1, v2 := grpcServer(t, "v1", 0), grpcServer(t, "v2", 0)
	rt := newTestRouter(t, Options{})
	route := grpcRoute(map[string]string{"v1": v1, "v2": v2}, weights("v1", 50, "v2", 50))
	route.Sticky = "header:x-user"
	mustUpdate(t, rt, route)
	front := stdAddr(serve(t, rt))

	seen := map[string]bool{}
	for u := range 12 {
		rs := grpcCall(t, front, "hi", "--meta", fmt.Sprintf("x-user=user-%d", u), "--count", "4")
		first := rs[0].Trailers["x-version"]
		for _, r := range rs {
			if r.Code != "OK" || r.Trailers["x-version"] != first {
				t.Fatalf("user-%d answered by %q then %+v", u, first, r)
			}
		}
		seen[first] = true
	}
	if !seen["v1"] || !seen["v2"] {
		t.Fatalf("12 users all on %v: the split is not applied", seen)
	}
}

func TestGRPCOverTLSByALPN(t *testing.T) {
	v1 := grpcServer(t, "v1", 0)
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Leaf(t, "router").Write(t, dir)
	caFile := ca.WriteCA(t, dir)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, grpcRoute(map[string]string{"v1": v1}, weights("v1", 100)))
	addr := serveTLS(t, rt, certFile, keyFile, nil)

	r := oneCall(t, grpcCall(t, addr, "tls", "--ca", caFile))
	if r.Code != "OK" || len(r.Answers) != 1 || r.Answers[0] != "v1:tls" || r.Trailers["x-version"] != "v1" {
		t.Fatalf("call over TLS: %+v", r)
	}
}

func TestGRPCShadowComparesRawMessages(t *testing.T) {
	live, same, failing := grpcServer(t, "v1", 0), grpcServer(t, "v1", 0), grpcServer(t, "v1", 13)
	for _, tc := range []struct {
		name, shadow     string
		agreements, errs int64
	}{
		{"same answers", same, 2, 0},
		{"failing shadow", failing, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRouter(t, Options{})
			route := grpcRoute(map[string]string{"v1": live, "v2": tc.shadow}, weights("v1", 100))
			route.Shadow = &traffic.Shadow{Version: "v2", Percent: 100, Compare: "exact"}
			mustUpdate(t, rt, route)
			front := stdAddr(serve(t, rt))
			for _, r := range grpcCall(t, front, "hi", "--count", "2") {
				if r.Code != "OK" || r.Answers[0] != "v1:hi" {
					t.Fatalf("live answer %+v", r)
				}
			}
			if err := rt.Close(); err != nil { // waits for the copies
				t.Fatal(err)
			}
			st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "prod", "v2")
			if st.ShadowPairs != 2 || st.ShadowAgreements != tc.agreements || st.ShadowErrors != tc.errs {
				t.Fatalf("shadow stats %+v, want 2 pairs, %d agreements, %d errors", st, tc.agreements, tc.errs)
			}
		})
	}
}

func TestGRPCBidirectionalCallStreamsBothWays(t *testing.T) {
	// The client sends each message only once the one before is
	// answered: a router that read the request whole first would wait
	// for the client, and the client for it.
	v1 := grpcServer(t, "v1", 0)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, grpcRoute(map[string]string{"v1": v1}, weights("v1", 100)))
	front := stdAddr(serve(t, rt))
	r := oneCall(t, grpcCall(t, front, "m", "--chat", "3"))
	if r.Code != "OK" || strings.Join(r.Answers, ",") != "v1:m0,v1:m1,v1:m2" || r.Trailers["x-version"] != "v1" {
		t.Fatalf("bidirectional call: %+v", r)
	}
}

func TestGRPCCallsGetTheRoutersErrorsAsGRPCStatuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, grpcRoute(map[string]string{"v1": down}, weights("v1", 100)))
	front := stdAddr(serve(t, rt))

	r := oneCall(t, grpcCall(t, front, "hi"))
	if r.Code != "UNAVAILABLE" || !strings.Contains(r.Details, "version v1 of m/prod failed") {
		t.Fatalf("call to a version that is down: %+v", r)
	}
	st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "prod", "v1")
	if st.Requests != 1 || st.Errors != 1 {
		t.Fatalf("stats %+v, want the failure counted", st)
	}
	rec := httptest.NewRecorder()
	rt.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `switchyard_requests_total{code="502",model="m",stage="prod",version="v1"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s", want)
	}

	mustUpdate(t, rt, traffic.Route{Model: "m", Stage: "prod", Path: "/other", Backends: map[string]string{"v1": "h2c://" + down}, Weights: weights("v1", 100)})
	if r := oneCall(t, grpcCall(t, front, "hi")); r.Code != "UNIMPLEMENTED" || !strings.Contains(r.Details, "no route") {
		t.Fatalf("call to no route: %+v", r)
	}
	if got := grpcMessage("100% sure\n"); got != "100%25 sure%0A" {
		t.Fatalf("grpcMessage: %q", got)
	}
}

func TestGRPCPreviewByMetadataKey(t *testing.T) {
	v1, v2 := grpcServer(t, "v1", 0), grpcServer(t, "v2", 0)
	rt := newTestRouter(t, Options{})
	route := grpcRoute(map[string]string{"v1": v1, "v2": v2}, weights("v1", 100))
	route.Preview = &traffic.Preview{Header: "x-preview", Version: "v2"}
	mustUpdate(t, rt, route)
	front := stdAddr(serve(t, rt))
	for _, r := range grpcCall(t, front, "hi", "--meta", "x-preview=1", "--count", "3") {
		if r.Code != "OK" || r.Answers[0] != "v2:hi" {
			t.Fatalf("previewing call: %+v", r)
		}
	}
	if r := oneCall(t, grpcCall(t, front, "hi")); r.Code != "OK" || r.Answers[0] != "v1:hi" {
		t.Fatalf("plain call: %+v", r)
	}
}

func TestWholeMessagesNeedsEveryMessageComplete(t *testing.T) {
	msg := func(body string) string { return "\x00\x00\x00\x00" + string(rune(len(body))) + body }
	for _, tc := range []struct {
		buf  string
		want bool
	}{
		{"", false},
		{msg("hi"), true},
		{msg("hi") + msg(""), true},
		{msg("hi")[:6], false},
		{msg("hi") + "\x00\x00", false},
		{"\x00\x00\x00\x01\x00", false}, // announces 256 bytes
	} {
		if got := wholeMessages([]byte(tc.buf)); got != tc.want {
			t.Errorf("wholeMessages(%q) = %v, want %v", tc.buf, got, tc.want)
		}
	}
}
