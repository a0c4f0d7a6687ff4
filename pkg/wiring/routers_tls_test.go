package wiring

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/tlstest"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// freeAddr is a 127.0.0.1 address nobody listens on at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestInProcessRouterServesTLS checks that tls_cert and tls_key reach the
// router the reconciler serves itself: the table it applies is served over
// TLS with that certificate, and plain HTTP is not.
func TestInProcessRouterServesTLS(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "v1 "+r.URL.Path) }))
	defer backend.Close()
	ca := tlstest.NewCA(t)
	cert, key := ca.Leaf(t, "edge").Write(t, t.TempDir())
	rs := &Routers{}
	defer rs.Close()
	addr := freeAddr(t)
	block := &spec.Router{Name: "edge", Type: "builtin", Listen: addr, TLSCert: cert, TLSKey: key}
	tgt, err := rs.Target(context.Background(), block)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(context.Background(), traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v1": backend.URL},
		Weights:  []traffic.Weight{{Version: "v1", Percent: 100}},
	}}}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, err := c.Get("https://" + addr + "/v1/fraud/predict")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "v1 /predict" || resp.TLS.PeerCertificates[0].Subject.CommonName != "edge" {
		t.Fatalf("over TLS: %d %q", resp.StatusCode, b)
	}
	if resp, err := http.Get("http://" + addr + "/v1/fraud/predict"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered 200 on the TLS listener")
		}
	}

	bad := &spec.Router{Name: "broken", Type: "builtin", Listen: freeAddr(t), TLSCert: cert, TLSKey: cert}
	if _, err := rs.Target(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `router "broken"`) {
		t.Fatalf("a certificate as its own key: %v, want an error naming the router", err)
	}
}

// TestStandaloneRouterAdminOverTLSTrustedByCAFile drives a standalone
// router whose admin API is served over TLS with a certificate from a
// private CA: the router block's ca_file lets the reconciler in, for the
// table and the stats; without it the certificate is refused.
func TestStandaloneRouterAdminOverTLSTrustedByCAFile(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	rt := router.New(router.Options{})
	defer rt.Close()
	ca := tlstest.NewCA(t)
	admin := httptest.NewUnstartedServer(router.NewAdminHandler(rt, "tok"))
	admin.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "admin").Pair(t)}}
	admin.StartTLS()
	defer admin.Close()
	caFile := ca.WriteCA(t, t.TempDir())
	table := traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v1": backend.URL},
		Weights:  []traffic.Weight{{Version: "v1", Percent: 100}},
	}}}
	getenv := func(k string) string { return map[string]string{"EDGE_TOKEN": "tok"}[k] }

	rs := &Routers{Getenv: getenv}
	defer rs.Close()
	untrusted := &spec.Router{Name: "edge", Type: "builtin", Admin: admin.URL, TokenEnv: "EDGE_TOKEN"}
	tgt, err := rs.Target(context.Background(), untrusted)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(context.Background(), table); err == nil {
		t.Fatal("applied over TLS to a certificate no trusted CA signed")
	}

	block := &spec.Router{Name: "edge", Type: "builtin", Admin: admin.URL, TokenEnv: "EDGE_TOKEN", CAFile: caFile}
	if tgt, err = rs.Target(context.Background(), block); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(context.Background(), table); err != nil {
		t.Fatalf("apply over TLS with ca_file: %v", err)
	}
	if got := rt.Table(); len(got.Routes) != 1 {
		t.Fatalf("the standalone router holds %+v", got)
	}
	// From the first table on: an earlier window is no data (see
	// TestStandaloneRouterDrivenOverItsAdminAPI).
	now := time.Now()
	if _, err := rs.StatsRange(context.Background(), block, "fraud", "production", now, now.Add(time.Second)); err != nil {
		t.Fatalf("stats over TLS with ca_file: %v", err)
	}
	missing := &spec.Router{Name: "other", Type: "builtin", Admin: admin.URL, CAFile: caFile + ".missing"}
	if _, err := rs.Target(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("a missing ca_file: %v", err)
	}
}
