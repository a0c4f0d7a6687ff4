package targets

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// fakeRuntime is a stand-in HAProxy runtime API on a unix socket.
type fakeRuntime struct {
	mu     sync.Mutex
	pid    int
	uptime int    // Uptime_sec in show info
	stot   uint64 // the backend's session count in show stat
	cmds   []string
	l      net.Listener
}

func startFakeRuntime(t *testing.T, path string) *fakeRuntime {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &fakeRuntime{pid: 100, uptime: 3, l: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			var out strings.Builder
			for _, cmd := range strings.Split(strings.TrimSpace(line), ";") {
				f.mu.Lock()
				switch {
				case cmd == "show info":
					fmt.Fprintf(&out, "Name: HAProxy\nPid: %d\nUptime_sec: %d\n", f.pid, f.uptime)
				case cmd == "show stat":
					fmt.Fprintf(&out, "# pxname,svname,qcur,stot,\nsy_fraud_production,BACKEND,0,%d,\n", f.stot)
				case strings.HasPrefix(cmd, "set server "):
					f.cmds = append(f.cmds, cmd)
				default:
					out.WriteString("Unknown command.\n")
				}
				f.mu.Unlock()
				out.WriteString("\n")
			}
			conn.Write([]byte(out.String()))
			conn.Close()
		}
	}()
	return f
}

// stop closes the socket: the instance is dead (connections are refused).
func (f *fakeRuntime) stop() { f.l.Close() }

func (f *fakeRuntime) reloaded() {
	f.mu.Lock()
	f.pid++
	f.mu.Unlock()
}

func (f *fakeRuntime) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.cmds
	f.cmds = nil
	return out
}

func TestHAProxyApplyReloadsOnlyOnStructure(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "switchyard.cfg")
	pidFile := filepath.Join(dir, "haproxy.pid")
	os.WriteFile(pidFile, []byte("4242\n"), 0o644)
	rt := startFakeRuntime(t, filepath.Join(dir, "admin.sock"))
	run := &fakeRunner{hook: func(c call) {
		if c.name == "kill" {
			rt.reloaded()
		}
	}}
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: file, Listen: "127.0.0.1:8081",
		RuntimeAPI: filepath.Join(dir, "admin.sock"),
		Command:    []string{"haproxy", "-W", "-f", "main.cfg", "-p", pidFile}}, Deps{Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	table := func(ws ...traffic.Weight) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(fraudBackends, ws...)}}
	}
	steps := []struct {
		name     string
		table    traffic.Table
		commands []string // commands run
		socket   []string // runtime API weight commands
	}{
		{"first apply: check, reload, weights", table(w("v6", 100), w("v7", 0)),
			[]string{"haproxy -W -f main.cfg -p " + pidFile + " -f " + file + " -c", "kill -USR2 4242"},
			[]string{"set server sy_fraud_production/rules weight 0", "set server sy_fraud_production/v6 weight 200",
				"set server sy_fraud_production/v7 weight 0", "set server sy_fraud_production/v8 weight 0"}},
		{"same table: nothing", table(w("v6", 100), w("v7", 0)), nil, nil},
		{"weights only: runtime API, no reload", table(w("v6", 95), w("v7", 5)), nil,
			[]string{"set server sy_fraud_production/rules weight 0", "set server sy_fraud_production/v6 weight 190",
				"set server sy_fraud_production/v7 weight 10", "set server sy_fraud_production/v8 weight 0"}},
		{"tiny weight stays live", table(w("v6", 99.9), w("v7", 0.1)), nil,
			[]string{"set server sy_fraud_production/rules weight 0", "set server sy_fraud_production/v6 weight 200",
				"set server sy_fraud_production/v7 weight 1", "set server sy_fraud_production/v8 weight 0"}},
	}
	ran := 0
	for _, s := range steps {
		if err := h.Apply(ctx, s.table); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		lines := run.lines()[ran:]
		ran += len(lines)
		if strings.Join(lines, "\n") != strings.Join(s.commands, "\n") {
			t.Errorf("%s: ran %q, want %q", s.name, lines, s.commands)
		}
		if got := rt.take(); strings.Join(got, "\n") != strings.Join(s.socket, "\n") {
			t.Errorf("%s: runtime API got %q, want %q", s.name, got, s.socket)
		}
		data, _ := os.ReadFile(file)
		want, _ := h.Render(s.table)
		if string(data) != string(want) {
			t.Errorf("%s: the file does not hold the table's weights", s.name)
		}
	}

	// A structure change that HAProxy rejects: the file is restored and
	// nothing is reloaded.
	before, _ := os.ReadFile(file)
	preview := table(w("v6", 100))
	preview.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v8"}
	run.fail = map[string]string{" -c": "[ALERT] (1) : config : parsing [switchyard.cfg:20]: unknown keyword"}
	err = h.Apply(ctx, preview)
	if err == nil || !strings.Contains(err.Error(), "unknown keyword") || !strings.Contains(err.Error(), "previous config restored") {
		t.Fatalf("err = %v; want HAProxy's message and a restore", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("the file was not restored")
	}
	if l := run.lines(); l[len(l)-1] == "kill -USR2 4242" {
		t.Errorf("reloaded after a failed check")
	}
}

func TestHAProxyReloadThatNeverLandsIsRetried(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "switchyard.cfg")
	pidFile := filepath.Join(dir, "haproxy.pid")
	os.WriteFile(pidFile, []byte("4242\n"), 0o644)
	rt := startFakeRuntime(t, filepath.Join(dir, "admin.sock"))
	lands := false
	run := &fakeRunner{hook: func(c call) {
		if c.name == "kill" && lands {
			rt.reloaded()
		}
	}}
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: file, Listen: "127.0.0.1:8081",
		RuntimeAPI: filepath.Join(dir, "admin.sock"), Command: []string{"haproxy", "-W", "-p", pidFile}}, Deps{Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	h.reloadWait = 200 * time.Millisecond
	table := traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v6", 100))}}
	err = h.Apply(context.Background(), table)
	if err == nil || !strings.Contains(err.Error(), "did not change after the reload signal") || !strings.Contains(err.Error(), "previous config restored") {
		t.Fatalf("err = %v; want a reload that never landed, and a restore", err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("the new file stayed after a failed reload (there was none before)")
	}
	lands = true
	if err := h.Apply(context.Background(), table); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := len(rt.take()); got != 4 {
		t.Errorf("weights set for %d servers after the reload, want 4", got)
	}
}

func TestHAProxyReloadWithoutAMaster(t *testing.T) {
	dir := t.TempDir()
	rt := startFakeRuntime(t, filepath.Join(dir, "admin.sock"))
	rt.mu.Lock()
	rt.pid = os.Getpid() // a worker whose parent is not HAProxy
	rt.mu.Unlock()
	file := filepath.Join(dir, "switchyard.cfg")
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: file, Listen: "127.0.0.1:8081",
		RuntimeAPI: filepath.Join(dir, "admin.sock")}, Deps{Runner: &fakeRunner{}})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Apply(context.Background(), traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v6", 100))}})
	if err == nil || !strings.Contains(err.Error(), "master-worker mode") {
		t.Fatalf("err = %v; want advice on master-worker mode", err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("the file stayed although HAProxy could not be reloaded")
	}
}

func TestHAProxyRefusesShadowAndFallback(t *testing.T) {
	dir := t.TempDir()
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: filepath.Join(dir, "s.cfg"),
		Listen: "127.0.0.1:8081", RuntimeAPI: filepath.Join(dir, "admin.sock")}, Deps{Runner: &fakeRunner{}})
	if err != nil {
		t.Fatal(err)
	}
	shadow := route(fraudBackends, w("v7", 100))
	shadow.Shadow = &traffic.Shadow{Version: "v8", Percent: 100, Compare: "json"}
	fallback := route(fraudBackends, w("v7", 100))
	fallback.Fallback = "rules"
	for name, r := range map[string]traffic.Route{"shadow": shadow, "fallback": fallback} {
		err := h.Apply(context.Background(), traffic.Table{Routes: []traffic.Route{r}})
		if err == nil || !strings.Contains(err.Error(), "lacks "+name) {
			t.Errorf("%s: err = %v; want a refusal naming %s", name, err, name)
		}
	}
}

// writeHAProxyMain writes a main HAProxy config with its runtime API at
// dir/admin.sock and returns its path.
func writeHAProxyMain(t testing.TB, dir string) string {
	t.Helper()
	main := filepath.Join(dir, "haproxy.cfg")
	body := fmt.Sprintf(`global
    stats socket %s/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
`, dir)
	if err := os.WriteFile(main, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return main
}

func TestHAProxyReal(t *testing.T) {
	bin := needBinary(t, "/usr/sbin/haproxy")
	dir := t.TempDir()
	main := writeHAProxyMain(t, dir)
	owned := filepath.Join(dir, "switchyard.cfg")
	sock := filepath.Join(dir, "admin.sock")
	listen := freeAddr(t)
	backends := map[string]string{"v6": versionBackend(t, "v6").URL, "v7": versionBackend(t, "v7").URL,
		"v8": versionBackend(t, "v8").URL}
	// No -p: the target finds the master as the worker's parent.
	command := []string{bin, "-W", "-f", main, "-f", owned}
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: owned, Listen: listen,
		RuntimeAPI: sock, Command: command}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	h := tg.(*HAProxy)
	table := func(ws ...traffic.Weight) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(backends, ws...)}}
	}
	ctx := context.Background()

	initial, err := h.Render(table(w("v6", 100), w("v7", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(owned, initial, 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, command[0], command[1:]...)
	waitListening(t, "tcp", listen)
	waitListening(t, "unix", sock)
	c := newProxyClient(t, listen)
	pid := func() string {
		t.Helper()
		p, err := h.workerPid(ctx, h.instances[0])
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := pid()

	if err := h.Apply(ctx, table(w("v6", 100), w("v7", 0))); err != nil {
		t.Fatal(err)
	}
	if got := c.count("/v1/fraud/predict", nil, 40); got["v6"] != 40 {
		t.Errorf("100/0: answers %v, want all v6", got)
	}
	if _, p := c.get("/v1/fraud/predict?x=1", nil); p != "/predict" {
		t.Errorf("backend saw path %q, want the prefix stripped: /predict", p)
	}

	// Weights only: through the runtime API, no reload.
	if err := h.Apply(ctx, table(w("v6", 50), w("v7", 50))); err != nil {
		t.Fatal(err)
	}
	got := c.count("/v1/fraud/predict", nil, 200)
	if got["v6"] < 70 || got["v7"] < 70 {
		t.Errorf("50/50: answers %v over 200 requests; want both near 100", got)
	}
	if err := h.Apply(ctx, table(w("v6", 0), w("v7", 100))); err != nil {
		t.Fatal(err)
	}
	if got := c.count("/v1/fraud/predict", nil, 40); got["v7"] != 40 {
		t.Errorf("0/100: answers %v, want all v7", got)
	}
	if now := pid(); now != start {
		t.Errorf("worker pid went from %s to %s: a weight change reloaded HAProxy", start, now)
	}

	// Structure: a preview header to v8 reloads, and the weights survive.
	preview := table(w("v6", 0), w("v7", 100))
	preview.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v8"}
	if err := h.Apply(ctx, preview); err != nil {
		t.Fatal(err)
	}
	if now := pid(); now == start {
		t.Errorf("worker pid unchanged after a structure change: no reload")
	}
	if got := c.count("/v1/fraud/predict", nil, 40); got["v7"] != 40 {
		t.Errorf("after reload: answers %v, want all v7", got)
	}
	hdr := http.Header{"X-Switchyard-Preview": {"1"}}
	if got := c.count("/v1/fraud/predict", hdr, 20); got["v8"] != 20 {
		t.Errorf("preview header: answers %v, want all v8", got)
	}
}
