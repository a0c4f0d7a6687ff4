package targets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// bigTable is n canary routes on distinct paths.
func bigTable(n int) traffic.Table {
	var t traffic.Table
	for i := 0; i < n; i++ {
		r := route(map[string]string{
			"v1": fmt.Sprintf("http://127.0.0.1:%d", 20000+i),
			"v2": fmt.Sprintf("http://127.0.0.1:%d", 30000+i),
		}, w("v1", 90), w("v2", 10))
		r.Model, r.Path = fmt.Sprintf("model%d", i), fmt.Sprintf("/v1/model%d", i)
		t.Routes = append(t.Routes, r)
	}
	return t
}

func BenchmarkNginxRender1000Routes(b *testing.B) {
	n, _ := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: "/x", Listen: "127.0.0.1:80"}, Deps{})
	t := bigTable(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Render(t); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHAProxyRender1000Routes(b *testing.B) {
	h, _ := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: "/x", Listen: "127.0.0.1:80", RuntimeAPI: "/x.sock"}, Deps{})
	t := bigTable(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Render(t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNginxApplyReal times one weight change on a running nginx:
// render, atomic write, `nginx -t`, `nginx -s reload`.
func BenchmarkNginxApplyReal(b *testing.B) {
	bin := needBinary(b, "/usr/sbin/nginx")
	dir := b.TempDir()
	owned := filepath.Join(dir, "switchyard.conf")
	conf := writeNginxMain(b, dir, owned)
	listen := freeAddr(b)
	backends := map[string]string{"v1": "http://127.0.0.1:9", "v2": "http://127.0.0.1:10"}
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: owned, Listen: listen,
		Command: []string{bin, "-p", dir, "-c", conf}}, Deps{})
	if err != nil {
		b.Fatal(err)
	}
	tables := []traffic.Table{
		{Routes: []traffic.Route{route(backends, w("v1", 90), w("v2", 10))}},
		{Routes: []traffic.Route{route(backends, w("v1", 75), w("v2", 25))}},
	}
	initial, _ := n.Render(tables[0])
	os.WriteFile(owned, initial, 0o644)
	startProcess(b, bin, "-p", dir, "-c", conf)
	waitListening(b, "tcp", listen)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := n.Apply(ctx, tables[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// startHAProxy starts HAProxy in master-worker mode on tables[0] and
// returns its target.
func startHAProxy(b *testing.B, first traffic.Table) *HAProxy {
	bin := needBinary(b, "/usr/sbin/haproxy")
	dir := b.TempDir()
	main := writeHAProxyMain(b, dir)
	owned := filepath.Join(dir, "switchyard.cfg")
	listen := freeAddr(b)
	command := []string{bin, "-W", "-f", main, "-f", owned, "-p", filepath.Join(dir, "haproxy.pid")}
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: owned, Listen: listen,
		RuntimeAPI: filepath.Join(dir, "admin.sock"), Command: command}, Deps{})
	if err != nil {
		b.Fatal(err)
	}
	initial, _ := h.Render(first)
	os.WriteFile(owned, initial, 0o644)
	startProcess(b, command[0], command[1:]...)
	waitListening(b, "tcp", listen)
	waitListening(b, "unix", filepath.Join(dir, "admin.sock"))
	return h
}

// BenchmarkHAProxyWeightApplyReal times one weight change on a running
// HAProxy: render, atomic write, runtime API (no reload).
func BenchmarkHAProxyWeightApplyReal(b *testing.B) {
	backends := map[string]string{"v1": "http://127.0.0.1:9", "v2": "http://127.0.0.1:10"}
	tables := []traffic.Table{
		{Routes: []traffic.Route{route(backends, w("v1", 90), w("v2", 10))}},
		{Routes: []traffic.Route{route(backends, w("v1", 75), w("v2", 25))}},
	}
	h := startHAProxy(b, tables[0])
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := h.Apply(ctx, tables[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHAProxyReloadApplyReal times one structure change: render,
// write, `haproxy -c`, SIGUSR2 to the master, wait for the new worker,
// weights through the runtime API.
func BenchmarkHAProxyReloadApplyReal(b *testing.B) {
	backends := map[string]string{"v1": "http://127.0.0.1:9", "v2": "http://127.0.0.1:10"}
	plain := traffic.Table{Routes: []traffic.Route{route(backends, w("v1", 90), w("v2", 10))}}
	preview := traffic.Table{Routes: []traffic.Route{route(backends, w("v1", 90), w("v2", 10))}}
	preview.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v2"}
	tables := []traffic.Table{plain, preview}
	h := startHAProxy(b, tables[0])
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := h.Apply(ctx, tables[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
	}
}
