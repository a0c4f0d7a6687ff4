package offline

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

func TestReadCSVTypesCells(t *testing.T) {
	fsys := fstest.MapFS{"d.csv": {Data: []byte("\ufeffamount,id,flag,note,expected\n" +
		"12.5,007,true,,fraud\n" +
		"-3e2,42,false,\"a, b\",1\n")}}
	got, err := (&Runner{}).readDataset(fsys, "d.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ in, exp string }{
		{`{"amount":12.5,"id":"007","flag":true,"note":null}`, `"fraud"`},
		{`{"amount":-3e2,"id":42,"flag":false,"note":"a, b"}`, `1`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i, w := range want {
		if string(got[i].Input) != w.in || string(got[i].Expected) != w.exp {
			t.Errorf("row %d: input %s expected %s; want %s and %s", i+1, got[i].Input, got[i].Expected, w.in, w.exp)
		}
		if !json.Valid(got[i].Input) {
			t.Errorf("row %d: input is not JSON", i+1)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"no expected", "a,b\n1,2\n", `d.csv:1: the header has no "expected" column`},
		{"only expected", "expected\n1\n", `only the "expected" column`},
		{"duplicate", "a,a,expected\n1,2,3\n", `columns 1 and 2 are both named "a"`},
		{"unnamed", "a,,expected\n1,2,3\n", "column 2 has no name"},
		{"ragged", "a,expected\n1,2\n1,2,3\n", "line 3, column 1: wrong number of fields"},
		{"bad quote", "a,expected\n\"1,2\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Runner{}).readDataset(fstest.MapFS{"d.csv": {Data: []byte(tc.data)}}, "d.csv")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	_, err := (&Runner{MaxSamples: 1}).readDataset(fstest.MapFS{"d.csv": {Data: []byte("a,expected\n1,1\n2,2\n")}}, "d.csv")
	if err == nil || !strings.Contains(err.Error(), "more than 1 samples") {
		t.Fatalf("limit: %v", err)
	}
}

// scorer serves {"score": clamp(x*k + c)} for an input {"x": ...}.
func scorer(t *testing.T, k, c float64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ X float64 }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := min(max(in.X*k+c, 0), 1)
		json.NewEncoder(w).Encode(map[string]any{"score": s})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// rankedCSV has x = i/n and expected 1 for the top half, 0 below, except a
// few swapped rows, so that a perfect ranker scores AUC below 1.
const rankedCSV = "x,expected\n0.05,0\n0.15,0\n0.25,1\n0.35,0\n0.45,0\n0.55,1\n0.65,1\n0.75,0\n0.85,1\n0.95,1\n"

func TestCompareWithBaseline(t *testing.T) {
	fsys := fstest.MapFS{"d.csv": {Data: []byte(rankedCSV)}}
	good := scorer(t, 1, 0)   // ranks by x
	flat := scorer(t, 0, 0.5) // every score 0.5: auc 0.5
	worse := scorer(t, -1, 1) // ranks backwards
	serving := &spec.Version{Name: "v7", URL: good.URL}
	r := &Runner{Client: good.Client()}
	val := func(metric string, maxReg float64) *spec.Validation {
		return &spec.Validation{Dataset: "d.csv", Output: "/score", Metric: metric, Baseline: "serve", MaxRegression: f(maxReg)}
	}
	for _, tc := range []struct {
		name       string
		url        string
		val        *spec.Validation
		serving    *spec.Version
		wantPassed bool
		wantReason string
		wantNote   string
	}{
		{"equal auc", good.URL, val("auc", 0.005), serving, true, "; v7 auc 0.8", ""},
		{"flat auc regresses", flat.URL, val("auc", 0.1), serving, false, "auc 0.5 is 0.3 worse than v7's 0.8 (max_regression 0.1)", ""},
		{"backwards auc regresses", worse.URL, val("auc", 0.1), serving, false, "auc 0.2 is 0.6 worse than v7's 0.8", ""},
		{"log_loss lower is better: candidate better", good.URL, val("log_loss", 0), &spec.Version{Name: "v7", URL: flat.URL}, true, "; v7 log_loss 0.693147", ""},
		{"log_loss higher regresses", flat.URL, val("log_loss", 0.01), serving, false, "log_loss 0.693147 is", ""},
		{"no serving version", flat.URL, val("auc", 0.1), nil, true, "auc 0.5", "no version serves now"},
		{"candidate is serving", good.URL, val("auc", 0.1), serving, true, "auc 0.8", "is the serving version itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "v8"
			if tc.wantNote != "" && tc.serving != nil {
				name = "v7"
			}
			res, err := r.Compare(context.Background(), fsys, &spec.Version{Name: name, URL: tc.url, Validation: tc.val}, tc.serving)
			if err != nil {
				t.Fatal(err)
			}
			if res.Passed != tc.wantPassed || !strings.Contains(res.Reason, tc.wantReason) {
				t.Fatalf("passed %v reason %q; want %v containing %q", res.Passed, res.Reason, tc.wantPassed, tc.wantReason)
			}
			if res.Baseline == nil || !strings.Contains(res.Baseline.Note, tc.wantNote) {
				t.Fatalf("baseline %+v, want note %q", res.Baseline, tc.wantNote)
			}
			if tc.wantNote == "" && (res.Baseline.Regression == nil || res.Baseline.Version != "v7") {
				t.Fatalf("baseline %+v: want a regression against v7", res.Baseline)
			}
		})
	}
}

func TestClassMetricsOverHTTP(t *testing.T) {
	// label = "fraud" when x > 0.5 (the scorer's score rounded), from a JSON-lines set.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ X float64 }
		json.NewDecoder(r.Body).Decode(&in)
		lbl := "ok"
		if in.X > 0.5 {
			lbl = "fraud"
		}
		json.NewEncoder(w).Encode(map[string]any{"label": lbl})
	}))
	t.Cleanup(srv.Close)
	csv := strings.NewReplacer("0\n", "ok\n", "1\n", "fraud\n").Replace(rankedCSV)
	fsys := fstest.MapFS{"d.csv": {Data: []byte(csv)}}
	r := &Runner{Client: srv.Client()}
	// predicted fraud: 0.55 0.65 0.75 0.85 0.95; actual fraud: 0.25 0.55 0.65 0.85 0.95.
	for metric, want := range map[string]float64{"precision": 0.8, "recall": 0.8, "f1": 0.8, "accuracy": 0.8} {
		res, err := r.Run(context.Background(), fsys, &spec.Version{Name: "v8", URL: srv.URL,
			Validation: &spec.Validation{Dataset: "d.csv", Output: "/label", Metric: metric, Positive: "fraud", Min: f(0.8)}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Value != want || !res.Passed {
			t.Errorf("%s = %v (passed %v: %s), want %v", metric, res.Value, res.Passed, res.Reason, want)
		}
	}
}
