package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

func f(v float64) *float64 { return &v }

// dataset: the model should return {"score": x*2, "label": x>5}.
func dataset(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		x := i % 10
		lbl := "no"
		if x > 5 {
			lbl = "yes"
		}
		line, _ := json.Marshal(map[string]any{"input": map[string]any{"x": x}, "expected": lbl})
		b.Write(line)
		b.WriteByte('\n')
		if i == 3 {
			b.WriteString("\n") // blank lines are skipped
		}
	}
	return b.String()
}

// model serves {"result": {"label": ..., "score": ...}}; wrong answers every
// `wrongEvery` samples when wrongEvery > 0.
func model(t *testing.T, wrongEvery int) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		var in struct{ X int }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		lbl := "no"
		if in.X > 5 {
			lbl = "yes"
		}
		if wrongEvery > 0 && n.Add(1)%int64(wrongEvery) == 0 {
			lbl = "maybe"
		}
		json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{"label": lbl, "score": float64(in.X) * 0.5}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunAccuracy(t *testing.T) {
	good := model(t, 0)
	bad := model(t, 4) // 25% wrong
	fsys := fstest.MapFS{"datasets/d.jsonl": {Data: []byte(dataset(40))}}
	tests := []struct {
		name       string
		url        string
		min        float64
		wantPassed bool
		wantValue  float64
		wantReason string
	}{
		{"good", good.URL + "/predict", 0.9, true, 1, "accuracy 1, latency p99"},
		{"under threshold", bad.URL, 0.9, false, 0.75, "accuracy 0.75 < min 0.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runner{Client: http.DefaultClient, Timeout: 5 * time.Second}
			v := &spec.Version{Name: "v8", URL: tc.url, Validation: &spec.Validation{
				Dataset: "datasets/d.jsonl", Output: "/result/label", Metric: "accuracy", Min: f(tc.min), MaxLatencyP99: f(5),
			}}
			res, err := r.Run(context.Background(), fsys, v)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tc.wantPassed || res.Value != tc.wantValue || res.Samples != 40 || res.Errors != 0 {
				t.Fatalf("got %+v", res)
			}
			if !strings.Contains(res.Reason, tc.wantReason) {
				t.Fatalf("reason %q, want it to contain %q", res.Reason, tc.wantReason)
			}
			if *res.Threshold != tc.min || res.Bound != "min" {
				t.Fatalf("threshold %v %s", *res.Threshold, res.Bound)
			}
		})
	}
}

func TestRunRegression(t *testing.T) {
	srv := model(t, 0)
	var b strings.Builder
	// expected = x*0.5 + 1 for half, exact for the other half.
	for i := 0; i < 10; i++ {
		exp := float64(i) * 0.5
		if i%2 == 0 {
			exp += 1
		}
		line, _ := json.Marshal(map[string]any{"input": map[string]any{"x": i}, "expected": exp})
		b.Write(line)
		b.WriteByte('\n')
	}
	fsys := fstest.MapFS{"d.jsonl": {Data: []byte(b.String())}}
	for _, tc := range []struct {
		metric string
		max    float64
		value  float64
		passed bool
	}{
		{"mae", 0.6, 0.5, true},
		{"rmse", 0.6, 0.707107, false},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			r := &Runner{Client: srv.Client()}
			res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v2", URL: srv.URL, Validation: &spec.Validation{
				Dataset: "./d.jsonl", Output: "/result/score", Metric: tc.metric, Max: f(tc.max),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Value != tc.value || res.Passed != tc.passed || res.Bound != "max" {
				t.Fatalf("got %+v", res)
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select { // hang until the client gives up (bounded by the test's end)
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	fsys := fstest.MapFS{"d.jsonl": {Data: []byte(dataset(6))}}
	r := &Runner{Client: srv.Client(), Timeout: 50 * time.Millisecond, Concurrency: 3}
	res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v9", URL: srv.URL, Validation: &spec.Validation{
		Dataset: "d.jsonl", Metric: "accuracy", Min: f(0.5),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || res.Errors != 6 || res.Samples != 6 || res.Value != 0 {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(res.Reason, "6 of 6 requests failed") || !strings.Contains(res.Reason, "no answer within 50ms") {
		t.Fatalf("reason %q", res.Reason)
	}
	if hits.Load() != 6 {
		t.Fatalf("server saw %d requests, want 6", hits.Load())
	}
}

func TestRunLatencyAndErrors(t *testing.T) {
	// A fake clock: each call advances 300ms, so every request takes 300ms.
	var ticks atomic.Int64
	clock := func() time.Time { return time.Unix(0, 0).Add(time.Duration(ticks.Add(1)) * 300 * time.Millisecond) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`"no"`))
	}))
	t.Cleanup(srv.Close)
	fsys := fstest.MapFS{"d.jsonl": {Data: []byte(`{"input": 1, "expected": "no"}` + "\n")}}
	r := &Runner{Client: srv.Client(), Now: clock, Concurrency: 1}
	res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v1", URL: srv.URL, Validation: &spec.Validation{
		Dataset: "d.jsonl", Min: f(1), MaxLatencyP99: f(0.2),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || res.LatencyP99 != 0.3 || res.Value != 1 || res.Metric != "accuracy" {
		t.Fatalf("got %+v", res)
	}
	if res.Reason != "latency p99 0.3s > max_latency_p99 0.2s" {
		t.Fatalf("reason %q", res.Reason)
	}
}

func TestRunBadInput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	fsys := fstest.MapFS{
		"bad.jsonl":   {Data: []byte("{\"input\": 1, \"expected\": 2}\nnot json\n")},
		"half.jsonl":  {Data: []byte("{\"input\": 1}\n")},
		"ok.jsonl":    {Data: []byte("{\"input\": 1, \"expected\": 2}\n")},
		"empty.jsonl": {Data: []byte("\n")},
	}
	r := &Runner{Client: srv.Client()}
	for _, tc := range []struct {
		name string
		val  *spec.Validation
		want string
	}{
		{"malformed line", &spec.Validation{Dataset: "bad.jsonl"}, "dataset bad.jsonl:2:"},
		{"missing expected", &spec.Validation{Dataset: "half.jsonl"}, `half.jsonl:1: want both "input" and "expected"`},
		{"missing file", &spec.Validation{Dataset: "nope.jsonl"}, "dataset nope.jsonl:"},
		{"outside repo", &spec.Validation{Dataset: "../x.jsonl"}, "want a path inside the repository"},
		{"empty", &spec.Validation{Dataset: "empty.jsonl"}, "has no samples"},
		{"bad pointer", &spec.Validation{Dataset: "ok.jsonl", Output: "score"}, "starts with \"/\""},
		{"bad metric", &spec.Validation{Dataset: "ok.jsonl", Metric: "f2"}, `unknown metric "f2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v1", URL: srv.URL, Validation: tc.val})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v1", URL: srv.URL, Validation: &spec.Validation{Dataset: "ok.jsonl"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || res.Errors != 1 || !strings.Contains(res.Reason, "status 500: boom") {
		t.Fatalf("got %+v", res)
	}
}

func TestPointer(t *testing.T) {
	doc := map[string]any{"a/b": map[string]any{"m~n": []any{1.0, "x"}}}
	for _, tc := range []struct {
		ptr  string
		want any
		err  string
	}{
		{"", doc, ""},
		{"/a~1b/m~0n/1", "x", ""},
		{"/a~1b/m~0n/2", nil, "answer has no /a~1b/m~0n/2"},
		{"/a~1b/m~0n/01", nil, "answer has no"},
		{"/nope", nil, "answer has no /nope"},
	} {
		p, err := parsePointer(tc.ptr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lookup(doc, p)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.ptr, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.ptr, err)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(tc.want)
		if string(gb) != string(wb) {
			t.Errorf("%q: got %s want %s", tc.ptr, gb, wb)
		}
	}
}

// A model that hangs on every request stops the run after MaxFailures
// failed requests instead of waiting out every sample.
func TestRunStopsAfterMaxFailures(t *testing.T) {
	var hits atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	fsys := fstest.MapFS{"d.jsonl": {Data: []byte(dataset(200))}}
	r := &Runner{Client: srv.Client(), Timeout: 20 * time.Millisecond, Concurrency: 4, MaxFailures: 5}
	res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v9", URL: srv.URL, Validation: &spec.Validation{
		Dataset: "d.jsonl", Metric: "accuracy", Min: f(0.5),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || res.Errors < 5 || res.Skipped == 0 || res.Errors+res.Skipped != 200 || hits.Load() >= 200 {
		t.Fatalf("got %+v after %d requests", res, hits.Load())
	}
	if !strings.Contains(res.Reason, fmt.Sprintf("stopped after %d failures: %d of 200 samples not sent", res.Errors, res.Skipped)) {
		t.Fatalf("reason %q", res.Reason)
	}
}
