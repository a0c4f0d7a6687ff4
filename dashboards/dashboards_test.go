// Package dashboards_test checks the Grafana dashboard and the example alert
// rules against a real Prometheus scraping a real reconciler and its builtin
// router while traffic goes through a canary, a rollback, a shadow and an
// A/B test.
package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// panelQuery is one query of one panel.
type panelQuery struct {
	panel, refID, expr string
}

type grafanaPanel struct {
	ID      int            `json:"id"`
	Type    string         `json:"type"`
	Title   string         `json:"title"`
	GridPos map[string]int `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// loadDashboard returns every query of every panel of switchyard.json.
func loadDashboard(t *testing.T) []panelQuery {
	t.Helper()
	b, err := os.ReadFile("switchyard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string         `json:"uid"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("switchyard.json is not JSON: %v", err)
	}
	if d.UID == "" {
		t.Error("the dashboard has no uid")
	}
	var out []panelQuery
	ids := map[int]bool{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos["w"] == 0 || p.GridPos["h"] == 0 {
				t.Errorf("panel %q has no size", p.Title)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q query %s is empty", p.Title, tg.RefID)
				}
				out = append(out, panelQuery{panel: p.Title, refID: tg.RefID, expr: tg.Expr})
			}
		}
	}
	walk(d.Panels)
	return out
}

// grafanaVars stand for Grafana's variables as a dashboard showing the
// test's whole run would expand them (scrape interval 1s).
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "4s",
	"$__interval", "1s",
	"$__range", "3m",
	"$model", ".*",
	"$stage", ".*",
)

func TestDashboardIsWellFormed(t *testing.T) {
	qs := loadDashboard(t)
	if len(qs) < 15 {
		t.Errorf("the dashboard has %d queries; expected every panel of docs/operating.md", len(qs))
	}
	for _, q := range qs {
		if strings.Contains(grafanaVars.Replace(q.expr), "$") {
			t.Errorf("panel %q query %s uses a variable the dashboard does not define: %s", q.panel, q.refID, q.expr)
		}
	}
}

func TestAlertRulesPassPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install -y prometheus ships it)")
	}
	out, err := exec.Command(bin, "check", "rules", "alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules alerts.yml: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool did not report success:\n%s", out)
	}
}

// TestDashboardQueriesReturnData runs a reconciler (with its in-process
// builtin router) under a real Prometheus through a canary that completes,
// one that is rolled back, a shadow and an A/B test, then evaluates every
// panel's query over that run, and loads the alert rules into the same
// Prometheus: every query returns data and every rule evaluates.
func TestDashboardQueriesReturnData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts with traffic under Prometheus")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install -y prometheus)")
	}
	queries := loadDashboard(t)
	reconcilerAddr := freeAddr(t)
	prom := startPrometheus(t, bin, reconcilerAddr)

	start := time.Now()
	w := newWorld(t, reconcilerAddr)
	w.play()
	// Every series of the run is in; the gauges of the final state remain.
	// A scrape that timed out on a busy machine is made up by the next
	// ones: evaluate until every query has data, for at most 30 s.
	w.stopTraffic()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("scrapes that failed: %v", prom.failedScrapes(ctx, start, time.Now()))
		}
	}()
	empty := queries
	deadline := time.Now().Add(30 * time.Second)
	for {
		var still []panelQuery
		for _, q := range empty {
			expr := grafanaVars.Replace(q.expr)
			n, err := prom.rangeSamples(ctx, expr, start, time.Now())
			if err != nil {
				t.Fatalf("panel %q query %s: %v\n  %s", q.panel, q.refID, err, expr)
			}
			if n == 0 {
				still = append(still, q)
			}
		}
		empty = still
		if len(empty) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, q := range empty {
		t.Errorf("panel %q query %s returned no data over the run\n  %s", q.panel, q.refID, grafanaVars.Replace(q.expr))
	}
	prom.checkRules(t, ctx)
}

type prometheus struct {
	base string
	logs func() string
}

// startPrometheus starts Prometheus on 127.0.0.1 under a temp dir,
// scraping target every second as job "switchyard" with alerts.yml loaded,
// and stops it when the test ends.
func startPrometheus(t *testing.T, bin, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: switchyard
    static_configs:
      - targets: [%q]
`, rules, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	p := &prometheus{base: "http://" + addr, logs: func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30 s; log:\n%s", p.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *prometheus) get(ctx context.Context, path string, q url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", resp.Status, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}

// rangeSamples evaluates expr every second from start to end and returns
// how many samples came back.
func (p *prometheus) rangeSamples(ctx context.Context, expr string, start, end time.Time) (int, error) {
	var data struct {
		Result []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	q := url.Values{"query": {expr}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"1"}}
	if err := p.get(ctx, "/api/v1/query_range", q, &data); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range data.Result {
		n += len(r.Values)
	}
	return n, nil
}

// failedScrapes says how many scrapes of the run failed (up == 0) and why
// the last one did, for a failure's message.
func (p *prometheus) failedScrapes(ctx context.Context, start, end time.Time) string {
	down, err := p.rangeSamples(ctx, "up == 0", start, end)
	if err != nil {
		return err.Error()
	}
	var data struct {
		ActiveTargets []struct {
			LastError string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := p.get(ctx, "/api/v1/targets", url.Values{}, &data); err != nil {
		return err.Error()
	}
	last := ""
	for _, tg := range data.ActiveTargets {
		last += tg.LastError
	}
	return fmt.Sprintf("%d down; last error %q", down, last)
}

// checkRules fails on any alert rule that Prometheus could not evaluate.
func (p *prometheus) checkRules(t *testing.T, ctx context.Context) {
	t.Helper()
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", url.Values{}, &data); err != nil {
		t.Fatalf("rules: %v", err)
	}
	n := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("alert rule %s: health %q: %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	if n == 0 {
		t.Errorf("prometheus loaded no alert rules from alerts.yml; log:\n%s", p.logs())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
