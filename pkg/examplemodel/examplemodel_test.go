package examplemodel

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, h http.Handler, body string) (int, Answer, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(body)))
	var a Answer
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.String(), err)
		}
	}
	return rec.Code, a, rec.Header()
}

// TestAnswersTheExampleDatasetRight: the dataset that init writes is
// labelled by the rule the stand-in follows, so its offline validation
// passes with accuracy 1.
func TestAnswersTheExampleDatasetRight(t *testing.T) {
	f, err := os.Open("../scaffold/template/datasets/fraud-holdout.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := Handler(Options{Version: "v1"})
	rows := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var row struct {
			Input    json.RawMessage `json:"input"`
			Expected string          `json:"expected"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		code, a, hdr := post(t, h, string(row.Input))
		if code != http.StatusOK || a.Label != row.Expected {
			t.Errorf("input %s: %d %+v, want label %q", row.Input, code, a, row.Expected)
		}
		if hdr.Get("X-Model-Version") != "v1" || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", hdr)
		}
		rows++
	}
	if rows < 10 {
		t.Fatalf("read %d rows of the example dataset", rows)
	}
}

func TestErrorRateIsExactOverAnyTenRequests(t *testing.T) {
	h := Handler(Options{ErrorRate: 0.3})
	for round := 0; round < 5; round++ {
		failed := 0
		for i := 0; i < 10; i++ {
			code, _, _ := post(t, h, `{"amount": 10}`)
			if code == http.StatusInternalServerError {
				failed++
			} else if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
		}
		if failed != 3 {
			t.Errorf("round %d: %d of 10 failed, want 3", round, failed)
		}
	}
	ok := Handler(Options{})
	for i := 0; i < 100; i++ {
		if code, _, _ := post(t, ok, "not json"); code != http.StatusOK {
			t.Fatalf("a model without --error-rate answered %d", code)
		}
	}
}

func TestLatencyIsWaited(t *testing.T) {
	var waited []time.Duration
	h := Handler(Options{Latency: 250 * time.Millisecond, Sleep: func(d time.Duration) { waited = append(waited, d) }})
	post(t, h, `{"amount": 170}`)
	if len(waited) != 1 || waited[0] != 250*time.Millisecond {
		t.Errorf("waited %v", waited)
	}
}

func TestPredict(t *testing.T) {
	for _, c := range []struct {
		amount float64
		want   Answer
	}{{0, Answer{"ok", 0}}, {149, Answer{"ok", 0.745}}, {150, Answer{"fraud", 0.75}}, {500, Answer{"fraud", 1}}, {-5, Answer{"ok", 0}}} {
		if got := Predict(c.amount); got != c.want {
			t.Errorf("Predict(%v) = %+v, want %+v", c.amount, got, c.want)
		}
	}
}
