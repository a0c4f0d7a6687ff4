package targets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// realHAProxy is one real HAProxy in master-worker mode serving the
// owned file, and its target.
type realHAProxy struct {
	t       *testing.T
	h       *HAProxy
	command []string
	sock    string
	listen  string
	pid     int // the master's, its process group's
}

func newRealHAProxy(t *testing.T) *realHAProxy {
	t.Helper()
	bin := needBinary(t, "/usr/sbin/haproxy")
	dir := t.TempDir()
	main := writeHAProxyMain(t, dir)
	owned := filepath.Join(dir, "switchyard.cfg")
	p := &realHAProxy{t: t, sock: filepath.Join(dir, "admin.sock"), listen: freeAddr(t),
		command: []string{bin, "-W", "-f", main, "-f", owned}}
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: owned, Listen: p.listen,
		RuntimeAPI: p.sock, Command: p.command}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p.h = tg.(*HAProxy)
	backends := map[string]string{"v6": versionBackend(t, "v6").URL, "v7": versionBackend(t, "v7").URL}
	initial, err := p.h.Render(traffic.Table{Routes: []traffic.Route{route(backends, w("v6", 50), w("v7", 50))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(owned, initial, 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	return p
}

func (p *realHAProxy) start() {
	p.t.Helper()
	os.Remove(p.sock)
	p.pid = startProcess(p.t, p.command[0], p.command[1:]...)
	waitListening(p.t, "unix", p.sock)
	waitListening(p.t, "tcp", p.listen)
}

// restart kills the whole instance and starts it again.
func (p *realHAProxy) restart() {
	p.t.Helper()
	syscall.Kill(-p.pid, syscall.SIGKILL)
	p.start()
}

// settled waits (bounded) until the worker has run for two whole seconds,
// so that a window starting now starts after it, and returns now.
func (p *realHAProxy) settled() time.Time {
	p.t.Helper()
	for range 100 {
		out, err := p.h.runtime(context.Background(), p.h.instances[0], "show info;show stat")
		if err != nil {
			p.t.Fatal(err)
		}
		c, err := parseCounters(out)
		if err != nil {
			p.t.Fatal(err)
		}
		if c.uptime >= 2*time.Second {
			return time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatal("HAProxy's Uptime_sec never reached 2")
	return time.Time{}
}

// A window spanning an HAProxy restart is no data, as one spanning a
// builtin replica's restart is: the new worker counts from zero. So is
// one in which the counters were cleared. A window that starts after
// either is measured again.
func TestHAProxyWindowSpanningARestartIsNoData(t *testing.T) {
	p := newRealHAProxy(t)
	h, ctx := p.h, context.Background()
	c := newProxyClient(t, p.listen)

	from := p.settled()
	c.count("/v1/fraud/predict", nil, 20)
	if err := h.Measurable(ctx, from); err != nil {
		t.Fatalf("a window with no restart: %v, want it measured", err)
	}

	p.restart()
	c.count("/v1/fraud/predict", nil, 20)
	err := h.Measurable(ctx, from)
	if err == nil || !strings.Contains(err.Error(), p.sock) || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("a window spanning a restart: %v, want no data naming the instance", err)
	}

	// A new leader's target, made after the restart, never read the
	// instance before: it sees the restart too.
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: h.file, Listen: p.listen,
		RuntimeAPI: p.sock, Command: p.command}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.(*HAProxy).Measurable(ctx, from); err == nil || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("a new leader's read of a window spanning the restart: %v, want no data", err)
	}

	// A window after the restart is whole.
	from = p.settled()
	c.count("/v1/fraud/predict", nil, 20)
	if err := h.Measurable(ctx, from); err != nil {
		t.Fatalf("a window after the restart: %v, want it measured", err)
	}

	// Counters cleared through the runtime API go back with the same
	// worker: the window is no data, and the one read before was whole.
	if out, err := h.runtime(ctx, h.instances[0], "clear counters all"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("clear counters all: %q, %v", out, err)
	}
	err = h.Measurable(ctx, from)
	if err == nil || !strings.Contains(err.Error(), "went back") {
		t.Fatalf("a window in which the counters were cleared: %v, want no data", err)
	}
	// Every read in that window says so (several models share a router).
	if err := h.Measurable(ctx, from); err == nil {
		t.Fatal("a second read of the same window forgot the cleared counters")
	}
	later := time.Now().Add(time.Second)
	if err := h.Measurable(ctx, later); err != nil {
		t.Fatalf("a window starting after the clear was seen: %v, want it measured", err)
	}
}

// The reconciler's own reload (a change of structure) starts a new
// worker too: a window spanning it is no data.
func TestHAProxyWindowSpanningAReloadIsNoData(t *testing.T) {
	p := newRealHAProxy(t)
	h, ctx := p.h, context.Background()
	backends := map[string]string{"v6": versionBackend(t, "v6").URL, "v7": versionBackend(t, "v7").URL,
		"v8": versionBackend(t, "v8").URL}
	table := traffic.Table{Routes: []traffic.Route{route(backends, w("v6", 50), w("v7", 50))}}
	if err := h.Apply(ctx, table); err != nil {
		t.Fatal(err)
	}
	from := p.settled()
	if err := h.Measurable(ctx, from); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	table.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v8"}
	if err := h.Apply(ctx, table); err != nil {
		t.Fatal(err)
	}
	if err := h.Measurable(ctx, from); err == nil || !strings.Contains(err.Error(), "reloaded") {
		t.Fatalf("a window spanning a reload: %v, want no data", err)
	}
}

// An instance that cannot be read makes the window no data; so does an
// answer without the figures.
func TestHAProxyWindowUnreadable(t *testing.T) {
	dir := t.TempDir()
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: filepath.Join(dir, "o.cfg"), Listen: "127.0.0.1:1",
		RuntimeAPI: filepath.Join(dir, "none.sock")}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.(*HAProxy).Measurable(context.Background(), time.Now()); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("an instance that does not answer: %v, want no data naming it", err)
	}
	for _, bad := range []string{
		"",
		"Pid: 7\n",
		"Pid: 7\nUptime_sec: 9\n",
		"Pid: 7\nUptime_sec: -1\n# pxname,svname,stot,\n",
		"Pid: 7\nUptime_sec: 9\n# pxname,svname,stot,\nfe,FRONTEND,x,\n",
	} {
		if _, err := parseCounters(bad); err == nil {
			t.Errorf("parseCounters(%q): no error", bad)
		}
	}
	c, err := parseCounters("Name: HAProxy\nPid: 7\nUptime_sec: 9\n\n# pxname,svname,qcur,stot,\nfe,FRONTEND,,12,\nbe,v6,0,5,\n")
	if err != nil || c.pid != "7" || c.uptime != 9*time.Second || c.totals["fe/FRONTEND"] != 12 || c.totals["be/v6"] != 5 {
		t.Fatalf("parseCounters: %+v, %v", c, err)
	}
	if !wentBack(c.totals, map[string]uint64{"fe/FRONTEND": 13, "be/v6": 4}) {
		t.Error("a server's count lower than before is not seen as going back")
	}
	if wentBack(c.totals, map[string]uint64{"fe/FRONTEND": 12, "be/v7": 0}) {
		t.Error("a new row or an unchanged count is seen as going back")
	}
}

// The worker's start is counted back from its uptime on the reconciler's
// clock: a window that starts at or after it is whole, one that starts
// before is no data, per instance, each named. A count lower than at the
// read before with the same worker is a clear; with a new worker it is
// the restart.
func TestHAProxyWindowOnTheReconcilersClock(t *testing.T) {
	dir := t.TempDir()
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	a, b := startFakeRuntime(t, sockA), startFakeRuntime(t, sockB)
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: filepath.Join(dir, "o.cfg"), Listen: "127.0.0.1:1",
		RuntimeAPIs: []string{sockA, sockB}}, Deps{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h, ctx := tg.(*HAProxy), context.Background()
	set := func(f *fakeRuntime, uptime int, stot uint64) {
		f.mu.Lock()
		f.uptime, f.stot = uptime, stot
		f.mu.Unlock()
	}
	set(a, 100, 50)
	set(b, 200, 70)
	if err := h.Measurable(ctx, now.Add(-100*time.Second)); err != nil {
		t.Fatalf("a window starting when a's worker started: %v, want it whole", err)
	}
	err = h.Measurable(ctx, now.Add(-101*time.Second))
	if err == nil || !strings.Contains(err.Error(), sockA) || strings.Contains(err.Error(), sockB) {
		t.Fatalf("a window starting a second before a's worker: %v, want no data naming a alone", err)
	}

	// a's counters are cleared (same worker, fewer sessions) ten seconds
	// later: the window from before is no data, one from after is whole.
	now = now.Add(10 * time.Second)
	set(a, 110, 20)
	set(b, 210, 80)
	from := now.Add(-5 * time.Second)
	err = h.Measurable(ctx, from)
	if err == nil || !strings.Contains(err.Error(), "went back") || !strings.Contains(err.Error(), sockA) || strings.Contains(err.Error(), sockB) {
		t.Fatalf("a window in which a's counters went back: %v, want no data naming a alone", err)
	}
	now = now.Add(10 * time.Second)
	set(a, 120, 25)
	set(b, 220, 90)
	if err := h.Measurable(ctx, now.Add(-5*time.Second)); err != nil {
		t.Fatalf("a window starting after the clear was seen: %v, want it whole", err)
	}

	// b restarts: a new worker with fewer sessions is a restart, not a clear.
	b.reloaded()
	set(b, 2, 1)
	err = h.Measurable(ctx, now.Add(-5*time.Second))
	if err == nil || !strings.Contains(err.Error(), sockB) || !strings.Contains(err.Error(), "restarted") || strings.Contains(err.Error(), "went back") {
		t.Fatalf("a window in which b restarted: %v, want no data for the restart", err)
	}
}
