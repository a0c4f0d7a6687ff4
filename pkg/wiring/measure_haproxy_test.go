package wiring

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// A canary on an HAProxy router is measured through Prometheus. When the
// HAProxy instance restarts inside the window, its counters start again
// from zero (Prometheus would take the reset for a restart and add up
// the two halves): the reconciler's measurement of that window is no
// data, never a judgement, as for a builtin replica that restarted. The
// window before the restart is judged, and so is the one after.
func TestMeasurerHAProxyRestartInTheWindowIsNoData(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy): skipping the test against the real router")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	main := filepath.Join(dir, "haproxy.cfg")
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind %s
    default_backend sy_fraud_production

backend sy_fraud_production
    server v6 %s weight 100
    server v7 %s weight 100
`, sock, listen, backend.Listener.Addr(), backend.Listener.Addr())
	if err := os.WriteFile(main, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var pgid int
	start := func() {
		t.Helper()
		os.Remove(sock)
		cmd := exec.Command(bin, "-W", "-f", main)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pgid = cmd.Process.Pid
		go cmd.Wait()
	}
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	// settled waits (bounded) until the worker has run for three whole
	// seconds, so that a window starting now starts after it.
	settled := func() time.Time {
		t.Helper()
		for range 200 {
			if up, err := uptime(sock); err == nil && up >= 3 {
				return time.Now()
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("HAProxy never answered with an Uptime_sec of 3")
		return time.Time{}
	}

	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1796000000,"0.01"]}]}}`)
	}))
	defer prom.Close()
	limit := 0.05
	m := &spec.Model{Name: "fraud", Stage: "production", Router: "lb", Checks: []*spec.Check{{
		Name: "errors", Source: "prom", Max: &limit,
		Query: `sum(rate(haproxy_server_http_responses_total{proxy="sy_fraud_production",server="{{version}}",code="5xx"}[1m]))`,
	}}}
	tree := &spec.Tree{
		Routers: map[string]*spec.Router{"lb": {Name: "lb", Type: "haproxy", Listen: listen,
			ConfigFile: filepath.Join(dir, "switchyard.cfg"), RuntimeAPI: sock}},
		Metrics: map[string]*spec.MetricsSource{"prom": {Name: "prom", Type: "prometheus", URL: prom.URL}},
		Models:  []*spec.Model{m},
	}
	rs := &Routers{}
	defer rs.Close()
	ms := &Measurer{Routers: rs}
	observe := func(from time.Time) (rollout.Observations, error) {
		t.Helper()
		st := rollout.ModelState{Interval: time.Second, MeasuredAt: from,
			Rollout: &rollout.RolloutState{From: "v6", To: "v7"}}
		now := time.Now()
		if now.Before(from.Add(2 * time.Second)) {
			now = from.Add(2 * time.Second) // the window is due
		}
		return ms.Observe(context.Background(), tree, m, st, now)
	}

	start()
	from := settled()
	obs, err := observe(from)
	if err != nil || obs.Checks["errors"].Value != 0.01 {
		t.Fatalf("a window with no restart: checks %+v, error %v; want it judged", obs.Checks, err)
	}

	syscall.Kill(-pgid, syscall.SIGKILL)
	start()
	obs, err = observe(from)
	if len(obs.Checks) != 0 {
		t.Errorf("a window spanning HAProxy's restart was judged: %+v", obs.Checks)
	}
	if err == nil || !strings.Contains(err.Error(), "no data for the window") || !strings.Contains(err.Error(), sock) {
		t.Errorf("a window spanning HAProxy's restart: error %v, want no data naming the instance", err)
	}

	from = settled()
	obs, err = observe(from)
	if err != nil || obs.Checks["errors"].Value != 0.01 {
		t.Fatalf("a window after the restart: checks %+v, error %v; want it judged", obs.Checks, err)
	}
}

// uptime reads Uptime_sec from an HAProxy runtime API.
func uptime(sock string) (int, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("show info\n")); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Uptime_sec: "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no Uptime_sec in show info")
}
