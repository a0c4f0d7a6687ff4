package wiring_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/grpctest"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// A canary between gRPC versions, end to end: real gRPC model servers
// (Debian's python3-grpcio, testdata/grpc_predict.py) at h2c:// URLs, the
// reconciler with its in-process builtin router, gRPC calls as traffic,
// and a version that answers grpc-status 13 rolled back and reverted in
// Git.

// grpcUnary calls Predict over c (HTTP/2) at addr and returns the version
// that answered (the router's X-Switchyard-Version) and the grpc-status.
func grpcUnary(ctx context.Context, c *http.Client, addr, user string) (version, status string, err error) {
	msg := []byte("features")
	var body bytes.Buffer
	body.WriteByte(0)
	_ = binary.Write(&body, binary.BigEndian, uint32(len(msg)))
	body.Write(msg)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/switchyard.test.Predictor/Predict", &body)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("X-User", user)
	resp, err := c.Do(req)
	if err != nil {
		return "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	status = resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status")
	}
	return resp.Header.Get("X-Switchyard-Version"), status, nil
}

func h2cHTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestE2EGRPCCanaryRollsBackOnGRPCStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with a real git server; skipped in -short")
	}
	addrs := map[string]string{"v1": grpctest.Serve(t, "v1", 0), "v2": grpctest.Serve(t, "v2", 0), "v3": grpctest.Serve(t, "v3", 13)}
	git := gittest.NewServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	router := ln.Addr().String()
	ln.Close()
	spec := func(serve string) string {
		return fmt.Sprintf(`router "edge" {
  type   = "builtin"
  listen = %q
}

model "predictor" "production" {
  router = "edge"
  path   = "/switchyard.test.Predictor"
  serve  = %q

  version "v1" { url = "h2c://%s/switchyard.test.Predictor" }
  version "v2" { url = "h2c://%s/switchyard.test.Predictor" }
  version "v3" { url = "h2c://%s/switchyard.test.Predictor" }

  rollout {
    strategy      = "canary"
    steps         = [10, 50]
    bake          = "1500ms"
    interval      = "500ms"
    failure_limit = 0
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.05
    min_requests = 10
  }
}
`, router, serve, addrs["v1"], addrs["v2"], addrs["v3"])
	}
	files := map[string]string{"rollouts/predictor.hcl": spec("v1")}
	addPolicies(files)
	git.CreateRepo("specs", files)
	ctx, cancel := context.WithCancel(context.Background())
	run, err := wiring.Start(ctx, wiring.Options{
		Repo: git.RepoURL("specs"), Branch: "main", Path: "rollouts", Policies: "policies",
		State: filepath.Join(t.TempDir(), "state.db"), Listen: "127.0.0.1:0",
		PollInterval: 200 * time.Millisecond, Tick: 100 * time.Millisecond,
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = run.Daemon.Run(ctx) }()

	// gRPC traffic: about 150 calls a second from 500 users, bounded by
	// the test's end.
	client := h2cHTTPClient()
	lctx, lcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; lctx.Err() == nil && i < 100000; i++ {
				_, _, _ = grpcUnary(lctx, client, router, fmt.Sprintf("user-%d", (i*3+w)%500))
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(func() {
		lcancel()
		wg.Wait()
		cancel()
		<-done
		run.Close()
	})

	status := func() (serve, rollout string, weights map[string]float64) {
		st := run.Daemon.Status()
		if len(st.Models) == 0 {
			return "", "", nil
		}
		m := st.Models[0]
		weights = map[string]float64{}
		for _, w := range m.Weights {
			weights[w.Version] = w.Percent
		}
		return m.Serve, m.Rollout(), weights
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if cond() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		serve, rollout, weights := status()
		t.Fatalf("gave up waiting for %s; serving %s, rollout %q, weights %v", what, serve, rollout, weights)
	}
	ask := func() (string, string) {
		v, st, err := grpcUnary(context.Background(), client, router, "probe")
		if err != nil {
			return "", err.Error()
		}
		return v, st
	}
	serving := func(version string) {
		t.Helper()
		waitFor(version+" at 100%", func() bool {
			serve, rollout, weights := status()
			return serve == version && rollout == "" && weights[version] == 100
		})
		waitFor(version+" answering", func() bool { v, st := ask(); return v == version && st == "0" })
		for i := range 20 {
			if v, st := ask(); v != version || st != "0" {
				t.Fatalf("call %d answered by %q with grpc-status %q, want %s and 0", i, v, st, version)
			}
		}
	}
	serving("v1")

	git.CommitAs("specs", "Promote predictor v2", map[string]string{"rollouts/predictor.hcl": spec("v2")})
	waitFor("the v2 canary", func() bool { _, r, _ := status(); return r == "v1→v2" })
	serving("v2")

	bad := git.CommitAs("specs", "Promote predictor v3", map[string]string{"rollouts/predictor.hcl": spec("v3")})
	waitFor("the revert commit", func() bool {
		return strings.Contains(git.Git("specs", "log", "-1", "--format=%B", "main"), "Switchyard-Action: rollback")
	})
	msg := git.Git("specs", "log", "-1", "--format=%B", "main")
	for _, want := range []string{"Switchyard-Reverts: " + bad, `check "errors" failed`, "rolled back from v3 to v2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("revert message lacks %q:\n%s", want, msg)
		}
	}
	serving("v2")
}
