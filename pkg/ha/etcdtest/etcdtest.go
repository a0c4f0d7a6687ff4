// Package etcdtest starts a real single-member etcd server for tests, on
// 127.0.0.1 ports with its data under the test's temporary directory.
package etcdtest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running etcd.
type Server struct {
	t        testing.TB
	Endpoint string // http://127.0.0.1:P
	dir      string
	peer     string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts etcd (skipping the test when /usr/bin/etcd or etcd on PATH
// is absent) and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd is not installed (Debian package etcd-server)")
	}
	s := &Server{t: t, dir: t.TempDir()}
	s.Endpoint = "http://" + freeAddr(t)
	s.peer = "http://" + freeAddr(t)
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts etcd again on the same ports and data after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("etcd", "--name", "default", "--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.Endpoint, "--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", s.peer, "--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "default="+s.peer)
	log, err := os.OpenFile(filepath.Join(s.dir, "etcd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+goarch())
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting etcd: %v", err)
	}
	go func() { _ = cmd.Wait(); log.Close() }()
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(s.dir, "etcd.log"))
			s.t.Fatalf("etcd did not become healthy on %s: %v\n%s", s.Endpoint, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills etcd (SIGKILL) and waits for its port to close.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd = nil
	host := s.Endpoint[len("http://"):]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", host, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// goarch names this machine's architecture for etcd, which refuses to
// start on some without ETCD_UNSUPPORTED_ARCH.
func goarch() string { return runtime.GOARCH }
