package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestExpand(t *testing.T) {
	tests := []struct{ tmpl, want, err string }{
		{`rate(x{version="{{version}}",model="{{ model }}",stage="{{stage}}"}[1m])`, `rate(x{version="v8",model="fraud",stage="production"}[1m])`, ""},
		{`x{v="{{ver}}"}`, "", "unknown placeholder {{ver}}"},
		{`up`, `up`, ""},
	}
	for _, tt := range tests {
		got, err := Expand(tt.tmpl, "fraud", "production", "v8")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Expand(%q) err = %v, want %q", tt.tmpl, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q %v, want %q", tt.tmpl, got, err, tt.want)
		}
	}
}

// TestPrometheusAnswers covers the API's answer shapes with canned bodies.
func TestPrometheusAnswers(t *testing.T) {
	answers := map[string]string{
		"one":    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"version":"v8"},"value":[1700000000.1,"0.25"]}]}}`,
		"none":   `{"status":"success","data":{"resultType":"vector","result":[]}}`,
		"two":    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a","version":"v8"},"value":[1,"1"]},{"metric":{"job":"b","version":"v8"},"value":[1,"2"]}]}}`,
		"scalar": `{"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"3.5"]}}`,
		"matrix": `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		"nan":    `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`,
		"bad":    `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		body, ok := answers[r.URL.Query().Get("query")]
		if !ok {
			http.Error(w, "no such canned query", http.StatusTeapot)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	p := &Prometheus{URL: srv.URL, HTTP: srv.Client()}
	ctx := context.Background()
	tests := []struct {
		expr string
		want float64
		err  string
	}{
		{"one", 0.25, ""},
		{"scalar", 3.5, ""},
		{"none", 0, "no series: check the labels"},
		{"two", 0, `2 series ({job="a", version="v8"}, {job="b", version="v8"}), want one: aggregate with sum(...)`},
		{"matrix", 0, `result type "matrix"`},
		{"bad", 0, "bad_data: parse error at char 3"},
		{"unknown", 0, "418 I'm a teapot: not an API answer"},
	}
	for _, tt := range tests {
		got, err := p.Instant(ctx, tt.expr)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Instant(%s) err = %v, want %q", tt.expr, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Instant(%s) = %v %v, want %v", tt.expr, got, err, tt.want)
		}
	}
	if _, err := p.Query(ctx, Query{Expr: "nan", Version: "v8"}); err == nil || !strings.Contains(err.Error(), "no traffic in the window?") {
		t.Errorf("NaN: %v", err)
	}
	if _, err := p.Query(ctx, Query{Version: "v8"}); err == nil {
		t.Error("a query without an expression should fail")
	}
}

const exporterMetrics = `# HELP fraud_error_ratio Errors per request.
# TYPE fraud_error_ratio gauge
fraud_error_ratio{model="fraud",stage="production",version="v7"} 0.01
fraud_error_ratio{model="fraud",stage="production",version="v8"} 0.05
fraud_error_ratio{model="fraud",stage="staging",version="v8"} 0.5
`

// TestPrometheusReal runs the source against a real Prometheus scraping a
// test exporter every second.
func TestPrometheusReal(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install -y prometheus): skipping the real-Prometheus test")
	}
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, exporterMetrics)
	}))
	defer exporter.Close()
	routerMetrics, hits, errs := routerWithTraffic(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	target := strings.TrimPrefix(exporter.URL, "http://")
	target2 := strings.TrimPrefix(routerMetrics, "http://")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: [%q, %q]
`, target, target2)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	base := "http://" + addr
	logs := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }

	// Ready, then the series scraped: bounded polls.
	if !poll(ctx, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("prometheus not ready within the deadline; log:\n%s", logs())
	}
	p := &Prometheus{URL: base}
	if !poll(ctx, func() bool {
		_, err1 := p.Instant(ctx, `fraud_error_ratio{stage="production",version="v8"}`)
		_, err2 := p.Instant(ctx, `sum(switchyard_requests_total{version="v8"})`)
		return err1 == nil && err2 == nil
	}) {
		t.Fatalf("series never scraped; log:\n%s", logs())
	}

	q := Query{Model: "fraud", Stage: "production", Version: "v8", Baseline: "v7",
		Expr: `max(fraud_error_ratio{model="{{model}}",stage="{{stage}}",version="{{version}}"})`}
	r, err := p.Query(ctx, q)
	if err != nil || r != (Result{Value: 0.05, Requests: -1, Baseline: 0.01, HasBaseline: true}) {
		t.Errorf("Query = %+v %v", r, err)
	}
	// A baseline without series: no baseline, no error.
	q.Baseline = "v6"
	if r, err := p.Query(ctx, q); err != nil || r.HasBaseline || r.Value != 0.05 {
		t.Errorf("missing baseline: %+v %v", r, err)
	}
	// The version under test without series: an error naming the query.
	q.Version = "v9"
	if _, err := p.Query(ctx, q); !errors.Is(err, ErrNoSeries) || !strings.Contains(err.Error(), `version="v9"`) {
		t.Errorf("missing version: %v", err)
	}
	// Several series: an error telling how to fix the query.
	if _, err := p.Instant(ctx, `fraud_error_ratio{version="v8"}`); err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Errorf("two series: %v", err)
	}
	if _, err := p.Instant(ctx, `sum(`); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("bad query: %v", err)
	}

	// The builtin router's own metrics, scraped by Prometheus: its error
	// rate for a version, as a check on source "prom" would read it.
	sel := `model="{{model}}",stage="{{stage}}",version="{{version}}"`
	rq := Query{Model: "fraud", Stage: "production", Version: "v8",
		Expr: `sum(switchyard_requests_total{` + sel + `,code=~"5.."}) / sum(switchyard_requests_total{` + sel + `})`}
	r, err = p.Query(ctx, rq)
	if want := float64(errs) / float64(hits); err != nil || math.Abs(r.Value-want) > 1e-12 {
		t.Errorf("router error rate through Prometheus = %+v %v, want %v (%d of %d)", r, err, want, errs, hits)
	}
}

// routerWithTraffic starts a builtin router whose v8 fails every fifth
// request, sends it 100 requests, and returns its /metrics URL and the
// requests and errors v8 saw.
func routerWithTraffic(t *testing.T) (metricsURL string, hits, errs int64) {
	t.Helper()
	var nHits, nErrs atomic.Int64
	v8 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if nHits.Add(1)%5 == 0 {
			nErrs.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(v8.Close)
	rt := router.New(router.Options{Seed: 1})
	t.Cleanup(func() { rt.Close() })
	if err := rt.Update(traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v8": v8.URL},
		Weights:  []traffic.Weight{{Version: "v8", Percent: 100}},
	}}}); err != nil {
		t.Fatal(err)
	}
	data := httptest.NewServer(rt)
	t.Cleanup(data.Close)
	for i := 0; i < 100; i++ {
		resp, err := data.Client().Get(data.URL + "/v1/fraud/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	m := httptest.NewServer(rt.MetricsHandler())
	t.Cleanup(m.Close)
	return m.URL, nHits.Load(), nErrs.Load()
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// poll calls ok every 200ms until it returns true, at most 100 times or
// until ctx ends.
func poll(ctx context.Context, ok func() bool) bool {
	for i := 0; i < 100; i++ {
		if ok() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false
}
