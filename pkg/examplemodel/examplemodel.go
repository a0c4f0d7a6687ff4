// Package examplemodel is a stand-in model server for the example that
// `reconciler init` writes, so that a new user can try a canary and a
// rollback on one machine before pointing the specs at real models: it
// answers the example dataset correctly, and a share of its answers can be
// made to fail.
package examplemodel

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// FraudAmount is the amount from which the example model says "fraud", the
// rule that datasets/fraud-holdout.jsonl of the example follows.
const FraudAmount = 150

// Options say how the stand-in answers.
type Options struct {
	// Version names the model in the X-Model-Version header.
	Version string
	// ErrorRate is the share of requests answered with a 500, spread
	// evenly: with 0.3, three requests in every ten fail.
	ErrorRate float64
	// Latency is added to every answer, waited with Sleep.
	Latency time.Duration
	// Sleep waits d; nil means time.Sleep.
	Sleep func(d time.Duration)
}

// Answer is the JSON body of a prediction.
type Answer struct {
	Label string  `json:"label"` // "fraud" or "ok"
	Score float64 `json:"score"` // amount / 200, at most 1
}

// Predict is the example model: an amount of FraudAmount or more is fraud.
func Predict(amount float64) Answer {
	a := Answer{Label: "ok", Score: math.Min(math.Max(amount, 0)/200, 1)}
	if amount >= FraudAmount {
		a.Label = "fraud"
	}
	return a
}

// Handler answers POST (or GET) on any path with Predict of the request
// body's "amount" (a body that is not such JSON counts as amount 0), or
// with a 500 for the ErrorRate share of requests.
func Handler(o Options) http.Handler {
	sleep := o.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	var mu sync.Mutex
	n := 0.0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Amount float64 `json:"amount"`
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		_ = json.Unmarshal(body, &in)
		mu.Lock()
		// Request n fails when it carries the running count of failures
		// owed, floor((n+1)·rate), past floor(n·rate).
		fail := math.Floor((n+1)*o.ErrorRate) > math.Floor(n*o.ErrorRate)
		n++
		mu.Unlock()
		if o.Latency > 0 {
			sleep(o.Latency)
		}
		if o.Version != "" {
			w.Header().Set("X-Model-Version", o.Version)
		}
		w.Header().Set("Content-Type", "application/json")
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"the example model failed on purpose (--error-rate)"}`+"\n")
			return
		}
		_ = json.NewEncoder(w).Encode(Predict(in.Amount))
	})
}
