package router

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

// scoreServer answers {"result": {"score": s, "label": l}} where s is the
// request's "x" times k, and l is "fraud" above 0.5.
func scoreServer(t testing.TB, k float64) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ X float64 }
		_ = json.NewDecoder(r.Body).Decode(&in)
		lbl := "ok"
		if in.X*k > 0.5 {
			lbl = "fraud"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"result": {"score": %g, "label": %q}}`, in.X*k, lbl)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRouterReadsOutputsAndScoresLabels(t *testing.T) {
	for _, std := range []bool{false, true} {
		name := "hand-written"
		if std {
			name = "net/http"
		}
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			rt := newTestRouter(t, Options{Now: clock.Now})
			v1, v2 := scoreServer(t, 1), scoreServer(t, 0.5)
			r := mkRoute("fraud", map[string]string{"v1": v1.URL, "v2": v2.URL}, weights("v1", 50, "v2", 50))
			r.Outputs = []string{"/result/label", "/result/score"}
			mustUpdate(t, rt, r)
			srv := serve(t, rt)
			if std {
				srv = serveStd(t, rt)
			}
			ids := map[string]string{} // request id -> version
			wantSum := map[string]float64{}
			for i := range 40 {
				x := float64(i%10) / 10
				resp, err := http.Post(srv.URL+"/v1/fraud/predict", "application/json", strings.NewReader(fmt.Sprintf(`{"x": %g}`, x)))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				v := resp.Header.Get("X-Switchyard-Version")
				ids[resp.Header.Get("X-Request-Id")] = v
				wantSum[v] += x * map[string]float64{"v1": 1, "v2": 0.5}[v]
			}
			st := rt.Stats(10 * time.Second)
			total := uint64(0)
			for _, v := range []string{"v1", "v2"} {
				vs := find(t, st, "fraud", "production", v)
				sk := vs.Outputs["/result/score"]
				if sk.Count != uint64(vs.Requests) || sk.Missing != 0 {
					t.Fatalf("%s: %d requests, score sketch %+v", v, vs.Requests, sk)
				}
				if lb := vs.Outputs["/result/label"]; lb.Answers() != uint64(vs.Requests) || len(lb.Categories) == 0 {
					t.Fatalf("%s: label sketch %+v", v, lb)
				}
				total += sk.Count
			}
			if total != 40 {
				t.Fatalf("%d answers read, want 40", total)
			}
			// Each version's scores add up to what it answered.
			for _, v := range []string{"v1", "v2"} {
				if got := find(t, st, "fraud", "production", v).Outputs["/result/score"].Sum; math.Abs(got-wantSum[v]) > 1e-9 {
					t.Fatalf("%s: scores sum to %v, want %v", v, got, wantSum[v])
				}
			}
			// Labels: the truth is "fraud" for every request.
			n := 0
			for id, v := range ids {
				resp, err := http.Post(srv.URL+FeedbackPath, "application/json", strings.NewReader(fmt.Sprintf(`{"request_id": %q, "label": "fraud"}`, id)))
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]string
				json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if resp.StatusCode != 200 || got["version"] != v {
					t.Fatalf("label for %s: %d %v, want version %s", id, resp.StatusCode, got, v)
				}
				if n++; n == 1 {
					// the same label again: refused.
					again, _ := http.Post(srv.URL+FeedbackPath, "application/json", strings.NewReader(fmt.Sprintf(`{"request_id": %q, "label": "fraud"}`, id)))
					body, _ := io.ReadAll(again.Body)
					again.Body.Close()
					if again.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already has a label") {
						t.Fatalf("second label: %d %s", again.StatusCode, body)
					}
				}
			}
			st = rt.Stats(10 * time.Second)
			q1 := find(t, st, "fraud", "production", "v1").Quality["/result/label"]
			q2 := find(t, st, "fraud", "production", "v2").Quality["/result/label"]
			a1, n1 := q1.Metric("accuracy")
			a2, n2 := q2.Metric("accuracy")
			// v1 says fraud for x > 0.5 (4 of 10 inputs), v2 never (x/2 <= 0.45).
			if n1+n2 != 40 || (n1 > 0 && (a1 <= 0 || a1 >= 1)) || (n2 > 0 && a2 != 0) {
				t.Fatalf("accuracy v1 %v over %d, v2 %v over %d: want all 40 labelled, v1 right on x > 0.5 only, v2 never", a1, n1, a2, n2)
			}
			// Unknown ids and labels without ids are refused.
			for body, code := range map[string]int{`{"request_id": "nope", "label": 1}`: 404, `{"label": 1}`: 400, `{"request_id": "x", "label": }`: 400} {
				resp, _ := http.Post(srv.URL+FeedbackPath, "application/json", strings.NewReader(body))
				resp.Body.Close()
				if resp.StatusCode != code {
					t.Errorf("%s: status %d, want %d", body, resp.StatusCode, code)
				}
			}
			// The numeric outputs are a Prometheus histogram per version.
			w := httptest.NewRecorder()
			rt.metrics.handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			if !strings.Contains(w.Body.String(), `switchyard_output_value_count{model="fraud",output="/result/score",stage="production",version="v1"}`) {
				t.Errorf("metrics lack the output histogram:\n%s", w.Body.String())
			}
		})
	}
}

func TestRouterReadsNoOutputsUnlessAsked(t *testing.T) {
	rt := newTestRouter(t, Options{})
	v1 := scoreServer(t, 1)
	mustUpdate(t, rt, mkRoute("fraud", map[string]string{"v1": v1.URL}, weights("v1", 100)))
	srv := serve(t, rt)
	resp, err := http.Post(srv.URL+"/v1/fraud/predict", "application/json", strings.NewReader(`{"x": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	vs := find(t, rt.Stats(10*time.Second), "fraud", "production", "v1")
	if vs.Requests != 1 || vs.Outputs != nil || rt.recent.Len() != 0 {
		t.Fatalf("outputs read without a check asking: %+v, %d kept", vs, rt.recent.Len())
	}
}

func TestOutputPointers(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"a/b": {"m~n": [1, "x"]}, "s": 0.5}`), &doc)
	ps := compileOutputs([]string{"/a~1b/m~0n/1", "/s", "/a~1b/m~0n/9", "bad"})
	if len(ps) != 3 {
		t.Fatalf("compiled %d pointers, want 3 (a malformed one is left out)", len(ps))
	}
	if got := behaviour.OutputOf(lookupValue(ps[0], doc)); got.Class != "x" {
		t.Errorf("escaped pointer: %+v", got)
	}
	if got := behaviour.OutputOf(lookupValue(ps[1], doc)); got.Num != 0.5 {
		t.Errorf("/s: %+v", got)
	}
	if got := behaviour.OutputOf(lookupValue(ps[2], doc)); got.Kind != behaviour.OutMissing {
		t.Errorf("index out of range: %+v", got)
	}
}

// BenchmarkServerOutputs is BenchmarkServer90_10 with the route
// reading the answers' "/score" for a behaviour check: the cost of
// reading outputs is the difference between the two.
func BenchmarkServerOutputs(b *testing.B) {
	a, c := benchBackend(b), benchBackend(b)
	rt := newTestRouter(b, Options{})
	r := mkRoute("m", map[string]string{"a": a.URL, "c": c.URL}, weights("a", 90, "c", 10))
	r.Outputs = []string{"/score"}
	mustUpdate(b, rt, r)
	s := serve(b, rt)
	rawRequests(b, strings.TrimPrefix(s.URL, "http://"), "/v1/m/predict")
}

// BenchmarkObserveOutputs is the reading alone: parse one answer, count its
// output, keep it for a label.
func BenchmarkObserveOutputs(b *testing.B) {
	rt := newTestRouter(b, Options{})
	r := mkRoute("m", map[string]string{"a": "http://127.0.0.1:1"}, weights("a", 100))
	r.Outputs = []string{"/score"}
	mustUpdate(b, rt, r)
	route := rt.table.Load().byName["m/production"]
	be := route.backends["a"]
	body := []byte(`{"score":0.5,"label":"ok"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rt.observeOutputs(route.outputs, be, "id-"+strconv.Itoa(i), 200, body)
	}
}

func lookupValue(p behaviour.Pointer, doc any) any {
	v, _, _, _ := p.Lookup(doc)
	return v
}

// Answers that are not JSON, lack the field, or are too large to keep
// count as missing; errors are not read at all.
func TestRouterCountsUnusableAnswersAsMissing(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		switch n % 4 {
		case 0:
			io.WriteString(w, `{"score": 0.7}`)
		case 1:
			io.WriteString(w, `not json`)
		case 2:
			io.WriteString(w, `{"other": 1}`)
		case 3:
			http.Error(w, `{"score": 0.1}`, http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"score": 0.5, "pad": "`+strings.Repeat("x", 4096)+`"}`)
	}))
	t.Cleanup(big.Close)
	rt := newTestRouter(t, Options{MaxBodyBytes: 1024})
	r1 := mkRoute("a", map[string]string{"v1": srv.URL}, weights("v1", 100))
	r1.Outputs = []string{"/score"}
	r2 := mkRoute("b", map[string]string{"v1": big.URL}, weights("v1", 100))
	r2.Outputs = []string{"/score"}
	mustUpdate(t, rt, r1, r2)
	s := serve(t, rt)
	for range 8 {
		resp, err := http.Get(s.URL + "/v1/a/predict")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(s.URL + "/v1/b/predict")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) < 4096 {
		t.Fatalf("the large answer was cut: %d bytes", len(body))
	}
	st := rt.Stats(10 * time.Second)
	a := find(t, st, "a", "production", "v1").Outputs["/score"]
	if a.Count != 2 || a.Missing != 4 || a.Answers() != 6 {
		t.Errorf("route a: %+v, want 2 numbers and 4 missing of 6 answers (2 errors not read)", a)
	}
	b := find(t, st, "b", "production", "v1").Outputs["/score"]
	if b.Missing != 1 || b.Count != 0 {
		t.Errorf("route b: %+v, want the answer too large to keep counted missing", b)
	}
}

// A shadow's answers are read into the shadow version's sketches, so its
// outputs can be compared with the live version's.
func TestRouterReadsTheShadowsOutputs(t *testing.T) {
	live, shadow := scoreServer(t, 1), scoreServer(t, 0.5)
	rt := newTestRouter(t, Options{})
	r := mkShadowRoute(live.URL, shadow.URL, "json", 0)
	r.Outputs = []string{"/result/score"}
	mustUpdate(t, rt, r)
	s := serve(t, rt)
	for i := range 20 {
		resp, err := http.Post(s.URL+"/v1/m/predict", "application/json", strings.NewReader(fmt.Sprintf(`{"x": %d}`, i%4)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitShadow(t, rt, 20)
	st := rt.Stats(10 * time.Second)
	l := find(t, st, "m", "production", "live").Outputs["/result/score"]
	sh := find(t, st, "m", "production", "shadow").Outputs["/result/score"]
	if l.Count != 20 || sh.Count != 20 || math.Abs(sh.Sum*2-l.Sum) > 1e-9 {
		t.Fatalf("live %+v, shadow %+v: want 20 scores each, the shadow's half the live's", l, sh)
	}
	if d, ok := behaviour.Compare(sh, l); !ok || d.PSI <= 0 {
		t.Fatalf("drift between shadow and live: %+v", d)
	}
	if rt.recent.Len() != 20 {
		t.Fatalf("%d outputs kept for labels, want the 20 live answers only", rt.recent.Len())
	}
}
