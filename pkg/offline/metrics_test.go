package offline

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func pairs(got, want []any) []pair {
	out := make([]pair, len(got))
	for i := range got {
		out[i] = pair{got[i], want[i]}
	}
	return out
}

func TestClassMetrics(t *testing.T) {
	// 3 TP, 1 FP, 2 FN, 4 TN; labels as strings, numbers and booleans.
	got := []any{"fraud", "fraud", "fraud", "fraud", "ok", "ok", "ok", "ok", "ok", "ok"}
	want := []any{"fraud", "fraud", "fraud", "ok", "fraud", "fraud", "ok", "ok", "ok", "ok"}
	for _, tc := range []struct {
		metric string
		want   float64
	}{
		{"precision", 0.75},
		{"recall", 0.6},
		{"f1", 2 * 0.75 * 0.6 / 1.35},
		{"accuracy", 0.7},
	} {
		v, err := metricValue(tc.metric, "fraud", pairs(got, want), 0)
		if err != nil || math.Abs(v-tc.want) > 1e-12 {
			t.Errorf("%s = %v, %v; want %v", tc.metric, v, err, tc.want)
		}
	}
	// accuracy counts failed requests as misses; the others leave them out.
	if v, _ := metricValue("accuracy", "fraud", pairs(got, want), 10); v != 0.35 {
		t.Errorf("accuracy with 10 failures = %v, want 0.35", v)
	}
	// positive "1" matches the number 1 and the string "1", not true.
	v, _ := metricValue("recall", "1", pairs([]any{1.0, "1", true}, []any{1.0, 1.0, 1.0}), 0)
	if math.Abs(v-2.0/3) > 1e-12 {
		t.Errorf("recall with mixed label types = %v, want 2/3", v)
	}
	// no predicted positive: precision 0, not NaN.
	if v, _ := metricValue("precision", "1", pairs([]any{0.0, 0.0}, []any{1.0, 0.0}), 0); v != 0 {
		t.Errorf("precision with no predicted positive = %v, want 0", v)
	}
}

// bruteAUC counts, over every (positive, negative) pair, 1 when the
// positive scores higher and 1/2 on a tie.
func bruteAUC(scores []float64, pos []bool) float64 {
	var sum, n float64
	for i := range scores {
		for j := range scores {
			if !pos[i] || pos[j] {
				continue
			}
			n++
			switch {
			case scores[i] > scores[j]:
				sum++
			case scores[i] == scores[j]:
				sum += 0.5
			}
		}
	}
	return sum / n
}

func TestAUCMatchesPairCountingWithTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 2 + rng.IntN(60)
		scores := make([]float64, n)
		pos := make([]bool, n)
		got, want := make([]any, n), make([]any, n)
		for i := range scores {
			scores[i] = float64(rng.IntN(5)) / 4 // few values: many ties
			pos[i] = rng.IntN(3) == 0
			if i < 2 {
				pos[i] = i == 0 // both classes present
			}
			got[i] = scores[i]
			want[i] = 0.0
			if pos[i] {
				want[i] = 1.0
			}
		}
		v, err := metricValue("auc", "1", pairs(got, want), 0)
		if err != nil {
			t.Fatal(err)
		}
		if b := bruteAUC(scores, pos); math.Abs(v-b) > 1e-12 {
			t.Fatalf("trial %d: auc %v, pair counting %v", trial, v, b)
		}
	}
	// every score tied: 0.5.
	if v, _ := metricValue("auc", "1", pairs([]any{0.3, 0.3, 0.3}, []any{1.0, 0.0, 0.0}), 0); v != 0.5 {
		t.Errorf("all tied: auc %v, want 0.5", v)
	}
	if _, err := metricValue("auc", "1", pairs([]any{0.3, 0.4}, []any{0.0, 0.0}), 0); err == nil || !strings.Contains(err.Error(), "both classes") {
		t.Errorf("one class: error %v, want both classes", err)
	}
}

func TestLogLossClipsCertainty(t *testing.T) {
	v, _ := metricValue("log_loss", "1", pairs([]any{0.8, 0.2}, []any{1.0, 0.0}), 0)
	if want := -math.Log(0.8); math.Abs(v-want) > 1e-12 {
		t.Errorf("log_loss = %v, want %v", v, want)
	}
	// a certain wrong answer costs log(1e15), not infinity.
	v, _ = metricValue("log_loss", "1", pairs([]any{0.0}, []any{1.0}), 0)
	if want := -math.Log(logLossEps); math.Abs(v-want) > 1e-9 || math.IsInf(v, 0) {
		t.Errorf("certain miss: log_loss = %v, want %v", v, want)
	}
	if why := checkPair("log_loss", pair{1.5, 1.0}); !strings.Contains(why, "probability from 0 to 1") {
		t.Errorf("probability 1.5: %q", why)
	}
	if why := checkPair("auc", pair{"high", 1.0}); !strings.Contains(why, "numeric output") {
		t.Errorf("string score: %q", why)
	}
}

func TestWorseFollowsTheMetricsDirection(t *testing.T) {
	if w := worse("auc", 0.90, 0.92); math.Abs(w-0.02) > 1e-12 {
		t.Errorf("auc 0.90 vs 0.92: worse by %v, want 0.02", w)
	}
	if w := worse("rmse", 0.5, 0.4); math.Abs(w-0.1) > 1e-12 {
		t.Errorf("rmse 0.5 vs 0.4: worse by %v, want 0.1", w)
	}
	if w := worse("log_loss", 0.3, 0.4); w >= 0 {
		t.Errorf("log_loss 0.3 vs 0.4: worse by %v, want negative (better)", w)
	}
}
