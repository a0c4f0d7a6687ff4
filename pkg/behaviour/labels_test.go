package behaviour

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestQualityScoresEachKindOfOutput(t *testing.T) {
	var q Quality
	q.Add(OutputOf("fraud"), "fraud")
	q.Add(OutputOf("ok"), "fraud")
	q.Add(OutputOf(true), true)
	if v, n := q.Metric("accuracy"); n != 3 || math.Abs(v-2.0/3) > 1e-12 {
		t.Errorf("accuracy %v over %d, want 2/3 over 3", v, n)
	}
	var p Quality
	p.Add(OutputOf(0.8), 1.0)
	p.Add(OutputOf(0.2), false)
	p.Add(OutputOf(3.0), 5.0) // a number, not a probability
	if v, n := p.Metric("log_loss"); n != 2 || math.Abs(v+math.Log(0.8)) > 1e-12 {
		t.Errorf("log_loss %v over %d, want %v over 2", v, n, -math.Log(0.8))
	}
	if v, n := p.Metric("mae"); n != 3 || math.Abs(v-(0.2+0.2+2)/3) > 1e-12 {
		t.Errorf("mae %v over %d", v, n)
	}
	if v, _ := p.Metric("rmse"); math.Abs(v-math.Sqrt((0.04+0.04+4)/3)) > 1e-12 {
		t.Errorf("rmse %v", v)
	}
	var m Quality
	m.Add(OutputOf(nil), "fraud") // missing output: labelled, never correct
	q.Merge(m)
	if v, n := q.Metric("accuracy"); n != 4 || v != 0.5 {
		t.Errorf("merged accuracy %v over %d, want 0.5 over 4", v, n)
	}
	if v, n := (Quality{}).Metric("accuracy"); n != 0 || !math.IsNaN(v) {
		t.Errorf("empty: %v over %d", v, n)
	}
	var c Quality
	c.Add(OutputOf(0.0), 0.0)
	if v, _ := c.Metric("log_loss"); math.IsInf(v, 0) || v > 1e-12 {
		t.Errorf("certain and right: log_loss %v", v)
	}
}

func TestRecentIsBoundedInCountAndAge(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	r := &Recent{Max: 3, TTL: time.Minute}
	for i := range 5 {
		r.Put(t0.Add(time.Duration(i)*time.Second), fmt.Sprint("id", i), Output{Kind: OutClass, Class: fmt.Sprint(i)})
	}
	if r.Len() != 3 {
		t.Fatalf("kept %d, want 3", r.Len())
	}
	if _, err := r.Take(t0.Add(5*time.Second), "id0"); !errors.Is(err, ErrNoOutput) {
		t.Errorf("the oldest was not evicted: %v", err)
	}
	o, err := r.Take(t0.Add(5*time.Second), "id3")
	if err != nil || o.Class != "3" {
		t.Fatalf("take id3: %+v %v", o, err)
	}
	if _, err := r.Take(t0.Add(5*time.Second), "id3"); !errors.Is(err, ErrNoOutput) {
		t.Errorf("a second label for id3 was taken: %v", err)
	}
	if _, err := r.Take(t0.Add(64*time.Second), "id4"); !errors.Is(err, ErrNoOutput) {
		t.Errorf("id4 is 60s old and still taken: %v", err)
	}
	if r.Len() != 0 {
		t.Errorf("kept %d after expiry", r.Len())
	}
	// Many labelled answers: the queue stays bounded too.
	for i := range 10000 {
		id := fmt.Sprint("x", i)
		r.Put(t0.Add(2*time.Minute), id, Output{})
		r.Take(t0.Add(2*time.Minute), id)
	}
	if n := len(r.queue) - r.head; n > 2*r.Max {
		t.Errorf("queue holds %d entries for max %d", n, r.Max)
	}
}

func TestOutputOfDecodedJSON(t *testing.T) {
	var doc map[string]any
	json.Unmarshal([]byte(`{"n": 0.25, "s": "fraud", "b": false, "o": {}, "z": null}`), &doc)
	for k, want := range map[string]OutputKind{"n": OutNumber, "s": OutClass, "b": OutClass, "o": OutMissing, "z": OutMissing} {
		if got := OutputOf(doc[k]).Kind; got != want {
			t.Errorf("%s: kind %v, want %v", k, got, want)
		}
	}
}

// Sketches and scores travel as JSON (the router's GET /v1/stats) and
// come back equal.
func TestSketchJSONRoundTrip(t *testing.T) {
	var s Sketch
	for _, x := range []float64{-2, 0, 0.25, 0.5, 0.5, 1e6} {
		s.AddNumber(x)
	}
	s.AddCategory("fraud")
	s.AddMissing()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Sketch
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Count != s.Count || back.Sum != s.Sum || back.Missing != 1 || back.Categories["fraud"] != 1 || len(back.Buckets) != len(s.Buckets) {
		t.Fatalf("round trip: %s -> %+v", b, back)
	}
	for k, n := range s.Buckets {
		if back.Buckets[k] != n {
			t.Fatalf("bucket %d: %d, want %d", k, back.Buckets[k], n)
		}
	}
}
