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

// Two HAProxy instances behind two runtime APIs: a weight change goes to
// both; with one dead, the live one has it at once, Apply says which did
// not, and the next Apply of the same table goes to that one only.
func TestHAProxyInstancesGetWeightsLikeAFleet(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "switchyard.cfg")
	sockA, sockB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	a, b := startFakeRuntime(t, sockA), startFakeRuntime(t, sockB)
	clock := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	h, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: file, Listen: "127.0.0.1:8081",
		RuntimeAPIs: []string{sockA, "unix@" + sockB}}, Deps{Runner: &fakeRunner{}, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	table := func(v7 float64) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v6", 100-v7), w("v7", v7))}}
	}
	// The structure is in force on both already (as after a start).
	first, _ := h.Render(table(0))
	if err := os.WriteFile(file, first, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Apply(ctx, table(10)); err != nil {
		t.Fatal(err)
	}
	for name, rt := range map[string]*fakeRuntime{"a": a, "b": b} {
		if got := strings.Join(rt.take(), ";"); !strings.Contains(got, "sy_fraud_production/v7 weight 20") {
			t.Errorf("instance %s got %q, want v7 at weight 20", name, got)
		}
	}
	for _, st := range h.Replicas() {
		if !st.InSync || st.Generation != 1 || st.LastError != "" || !st.LastContact.Equal(clock) {
			t.Errorf("status %+v, want in sync at generation 1", st)
		}
	}

	b.stop()
	err = h.Apply(ctx, table(0)) // the restore
	if err == nil || !strings.Contains(err.Error(), "1 of 2 HAProxy instances") || !strings.Contains(err.Error(), sockB) {
		t.Fatalf("restore with instance b dead: %v, want an error naming b", err)
	}
	if got := strings.Join(a.take(), ";"); !strings.Contains(got, "sy_fraud_production/v7 weight 0") {
		t.Errorf("the live instance got %q, want the restore (v7 at 0)", got)
	}
	st := h.Replicas()
	if len(st) != 2 || !st[0].InSync || st[1].InSync || st[1].LastError == "" || st[1].Generation != 1 || st[1].Want != 2 {
		t.Errorf("status %+v, want a in sync, b behind at generation 1 of 2 with its error", st)
	}
	data, _ := os.ReadFile(file)
	if want, _ := h.Render(table(0)); string(data) != string(want) {
		t.Error("the file does not hold the restore's weights (an instance that restarts must load them)")
	}

	// b answers again: the same table is sent to it alone.
	os.Remove(sockB)
	b = startFakeRuntime(t, sockB)
	if err := h.Apply(ctx, table(0)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := a.take(); len(got) != 0 {
		t.Errorf("the instance in sync was sent %q again", got)
	}
	if got := strings.Join(b.take(), ";"); !strings.Contains(got, "sy_fraud_production/v7 weight 0") {
		t.Errorf("the instance back got %q, want the restore", got)
	}
	if err := h.Apply(ctx, table(0)); err != nil {
		t.Fatal(err)
	}
	if got := len(a.take()) + len(b.take()); got != 0 {
		t.Errorf("the same table again, in sync everywhere: %d commands sent, want none", got)
	}
}

func TestHAProxyRefusesInstancesOnOtherHosts(t *testing.T) {
	_, err := NewHAProxy(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: "/tmp/x.cfg", Listen: "127.0.0.1:8081",
		RuntimeAPIs: []string{"/run/a.sock", "10.0.0.8:9999"}}, Deps{})
	if err == nil || !strings.Contains(err.Error(), "10.0.0.8:9999") || !strings.Contains(err.Error(), "not on this host") {
		t.Fatalf("err = %v, want a refusal naming the remote instance", err)
	}
}

// writeHAProxyInstance writes the main config of one instance with its
// runtime API at dir/name.sock, and returns both paths.
func writeHAProxyInstance(t testing.TB, dir, name string) (main, sock string) {
	t.Helper()
	sub := filepath.Join(dir, name)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	main = writeHAProxyMain(t, sub)
	return main, filepath.Join(sub, "admin.sock")
}

// Two real HAProxy processes share the owned file and one port
// (SO_REUSEPORT), each with its own runtime API: weights reach both
// without a reload, a structure change reloads both, a dead one does not
// hold the other back, and when it is started again it is brought up to
// date.
func TestHAProxyTwoRealInstances(t *testing.T) {
	p := newHAProxyPair(t, func(sockA, sockB string) []string { return []string{sockA, sockB} })
	h, sockB, cmdA, cmdB, listen, owned, table := p.h, p.sockB, p.cmdA, p.cmdB, p.listen, p.owned, p.table
	ctx := context.Background()
	start := p.start
	start(cmdA, p.sockA)
	pidB := start(cmdB, sockB)
	waitListening(t, "tcp", listen)
	weight, worker := p.weight, p.worker
	a, b := h.instances[0], h.instances[1]
	workerA, workerB := worker(a), worker(b)

	if err := h.Apply(ctx, table(25)); err != nil {
		t.Fatal(err)
	}
	if wa, wb := weight(a), weight(b); wa != "50" || wb != "50" {
		t.Errorf("v7 at 25%%: weights %s and %s, want 50 on both", wa, wb)
	}
	if worker(a) != workerA || worker(b) != workerB {
		t.Error("a weight change reloaded an instance")
	}
	c := newProxyClient(t, listen)
	if got := c.count("/v1/fraud/predict", nil, 200); got["v6"] < 100 || got["v7"] < 20 {
		t.Errorf("25%% to v7 through both instances: answers %v over 200", got)
	}

	// A structure change (a preview header) reloads both.
	preview := table(25)
	preview.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v8"}
	if err := h.Apply(ctx, preview); err != nil {
		t.Fatal(err)
	}
	if worker(a) == workerA || worker(b) == workerB {
		t.Error("a structure change did not reload both instances")
	}
	if wa, wb := weight(a), weight(b); wa != "50" || wb != "50" {
		t.Errorf("after the reload: weights %s and %s, want 50 on both", wa, wb)
	}

	// b dies; the restore reaches a at once and names b.
	syscall.Kill(-pidB, syscall.SIGKILL)
	restore := table(0)
	restore.Routes[0].Preview = preview.Routes[0].Preview
	err := h.Apply(ctx, restore)
	if err == nil || !strings.Contains(err.Error(), sockB) {
		t.Fatalf("restore with b dead: %v, want an error naming b", err)
	}
	if wa := weight(a); wa != "0" {
		t.Errorf("the live instance's v7 weight is %s after the restore, want 0", wa)
	}
	// b starts again from the file, which holds the restore; the next
	// Apply brings it in sync.
	os.Remove(sockB)
	pidB = start(cmdB, sockB)
	if wb := weight(b); wb != "0" {
		t.Errorf("the restarted instance's v7 weight is %s, want 0 from the file", wb)
	}
	if err := h.Apply(ctx, restore); err != nil {
		t.Fatalf("the same table with b back: %v", err)
	}
	for _, st := range h.Replicas() {
		if !st.InSync || st.LastError != "" {
			t.Errorf("status %+v, want every instance in sync", st)
		}
	}

	// A structure change while b is dead: a reloads and keeps the new
	// file (it runs it), b is reloaded once it answers again.
	syscall.Kill(-pidB, syscall.SIGKILL)
	workerA = worker(a)
	plain := table(0)
	if err := h.Apply(ctx, plain); err == nil || !strings.Contains(err.Error(), sockB) || strings.Contains(err.Error(), "previous config restored") {
		t.Fatalf("structure change with b dead: %v, want an error naming b and the new file kept", err)
	}
	if worker(a) == workerA {
		t.Error("the live instance was not reloaded with the new structure")
	}
	data, _ := os.ReadFile(owned)
	if want, _ := h.Render(plain); string(data) != string(want) {
		t.Error("the file does not hold the new structure that instance a runs")
	}
	os.Remove(sockB)
	start(cmdB, sockB)
	workerB = worker(b)
	if err := h.Apply(ctx, plain); err != nil {
		t.Fatalf("the same table with b back: %v", err)
	}
	if worker(b) == workerB {
		t.Error("the instance that missed a reload was not reloaded when it came back")
	}
	hdr := map[string][]string{"X-Switchyard-Preview": {"1"}}
	if got := c.count("/v1/fraud/predict", hdr, 40); got["v6"] != 40 {
		t.Errorf("after the preview was removed from both: answers %v, want all v6", got)
	}
}

// haproxyPair is the setup of two real HAProxy instances sharing the
// owned file: their configs, commands and the target, not yet started.
type haproxyPair struct {
	t                        testing.TB
	h                        *HAProxy
	owned, sockA, sockB, dir string
	listen                   string
	cmdA, cmdB               []string
	table                    func(v7 float64) traffic.Table
}

// newHAProxyPair writes two instances' configs and the owned file (v7 at
// 0%) and returns the target whose runtime_api list apis makes of the
// instances' sockets.
func newHAProxyPair(t testing.TB, apis func(sockA, sockB string) []string) *haproxyPair {
	t.Helper()
	bin := needBinary(t, "/usr/sbin/haproxy")
	p := &haproxyPair{t: t, dir: t.TempDir(), listen: freeAddr(t)}
	p.owned = filepath.Join(p.dir, "switchyard.cfg")
	mainA, sockA := writeHAProxyInstance(t, p.dir, "a")
	mainB, sockB := writeHAProxyInstance(t, p.dir, "b")
	p.sockA, p.sockB = sockA, sockB
	backends := map[string]string{"v6": versionBackend(t, "v6").URL, "v7": versionBackend(t, "v7").URL,
		"v8": versionBackend(t, "v8").URL}
	p.cmdA = []string{bin, "-W", "-f", mainA, "-f", p.owned}
	p.cmdB = []string{bin, "-W", "-f", mainB, "-f", p.owned}
	tg, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: p.owned, Listen: p.listen,
		RuntimeAPIs: apis(sockA, sockB), Command: p.cmdA}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p.h = tg.(*HAProxy)
	p.h.reloadWait = 5 * time.Second
	p.table = func(v7 float64) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(backends, w("v6", 100-v7), w("v7", v7))}}
	}
	initial, _ := p.h.Render(p.table(0))
	if err := os.WriteFile(p.owned, initial, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// start starts one instance and waits for its runtime API.
func (p *haproxyPair) start(cmd []string, sock string) int {
	p.t.Helper()
	pid := startProcess(p.t, cmd[0], cmd[1:]...)
	waitListening(p.t, "unix", sock)
	return pid
}

// weight is v7's weight in an instance.
func (p *haproxyPair) weight(in *haInstance) string {
	p.t.Helper()
	out, err := p.h.runtime(context.Background(), in, "get weight sy_fraud_production/v7")
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.Fields(out)[0]
}

// worker is an instance's worker pid.
func (p *haproxyPair) worker(in *haInstance) string {
	p.t.Helper()
	pid, err := p.h.workerPid(context.Background(), in)
	if err != nil {
		p.t.Fatal(err)
	}
	return pid
}
