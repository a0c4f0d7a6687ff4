// Package demo is the self-contained demonstration behind `reconciler demo`:
// example model servers, a traffic generator with simulated user feedback,
// and the narrated scenes that drive the reconciler through every strategy
// and outcome: a canary, a failed canary with its revert commit, a shadow
// assessment, an A/B test and a bandit with their promote commits, a
// roll-through, a blue/green rollout with preview traffic and a fallback.
package demo

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
)

// ModelBehaviour says how an example model server answers.
type ModelBehaviour struct {
	Version string
	// ErrorRate is the share of requests answered with 500 (a bad model).
	ErrorRate float64
	// Drift is the share of inputs on which this version's score differs
	// from the reference model's (what a shadow comparison measures).
	Drift float64
	// Conversion is the chance a user rewards an answer (for A/B tests).
	Conversion float64
	// ScoreShift moves every score up (capped at 1): a model that answers
	// 200 but wrong (the drift scene).
	ScoreShift float64
}

// prediction is what the example models answer.
type prediction struct {
	Score float64 `json:"score"`
	Label string  `json:"label"`
}

// ModelHandler serves POST (or GET) /predict as an example model. It is
// deterministic in its input: the same request id or body gives the same
// answer, so that shadow comparisons and tests are repeatable.
func ModelHandler(b ModelBehaviour) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		key := r.Header.Get("X-Demo-Input")
		if key == "" {
			key = string(body)
		}
		u := unit(key, "err")
		if u < b.ErrorRate {
			http.Error(w, `{"error":"model crashed"}`, http.StatusInternalServerError)
			return
		}
		score := unit(key, "score")
		if unit(key, "drift") < b.Drift {
			score = unit(key, "drift-score")
		}
		score = min(score+b.ScoreShift, 1)
		label := "legit"
		if score > 0.9 {
			label = "fraud"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Model-Version", b.Version)
		_ = json.NewEncoder(w).Encode(prediction{Score: roundTo(score, 3), Label: label})
	})
}

// unit maps a key to a number in [0,1), stably.
func unit(key, salt string) float64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, salt)
	_, _ = io.WriteString(h, key)
	return float64(h.Sum64()%1_000_000) / 1_000_000
}

func roundTo(x float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', digits, 64), 64)
	return f
}
