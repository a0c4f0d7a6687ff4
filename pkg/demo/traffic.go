package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Traffic sends a steady stream of requests to a router, as users would,
// and posts feedback (a conversion reward) for the answers it gets.
type Traffic struct {
	Client *http.Client
	// URL is the model's route on the router, e.g. http://127.0.0.1:8080/v1/fraud/predict.
	URL string
	// FeedbackURL is the router's feedback endpoint.
	FeedbackURL string
	// Rate is requests per second; Users the number of distinct users.
	Rate  int
	Users int
	// Conversion is each version's chance that a user rewards an answer.
	Conversion map[string]float64
	Seed       uint64

	mu     sync.Mutex
	counts map[string]int // by version ("error" for failures)
}

// Run sends traffic until ctx ends.
func (t *Traffic) Run(ctx context.Context) {
	rng := rand.New(rand.NewPCG(t.Seed, 7))
	tick := time.NewTicker(time.Second / time.Duration(max(t.Rate, 1)))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 32)
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		user := fmt.Sprintf("user-%d", rng.IntN(max(t.Users, 1)))
		input := fmt.Sprintf("input-%d", n)
		u := rng.Float64()
		select {
		case sem <- struct{}{}:
		default:
			continue // the router is slow: skip rather than pile up
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.one(ctx, user, input, u)
		}()
	}
}

func (t *Traffic) one(ctx context.Context, user, input string, u float64) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader([]byte(`{"amount": 42}`)))
	if err != nil {
		return
	}
	req.Header.Set("X-User-Id", user)
	req.Header.Set("X-Demo-Input", input)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.Client.Do(req)
	if err != nil {
		t.count("error")
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	version := resp.Header.Get("X-Switchyard-Version")
	if resp.StatusCode >= 500 {
		t.count("error")
		return
	}
	t.count(version)
	if t.FeedbackURL == "" {
		return
	}
	reward := 0.0
	if u < t.Conversion[version] {
		reward = 1
	}
	body, _ := json.Marshal(map[string]any{"request_id": resp.Header.Get("X-Request-Id"), "reward": reward})
	fb, err := http.NewRequestWithContext(ctx, http.MethodPost, t.FeedbackURL, bytes.NewReader(body))
	if err != nil {
		return
	}
	fb.Header.Set("Content-Type", "application/json")
	if resp, err := t.Client.Do(fb); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func (t *Traffic) count(version string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	t.counts[version]++
}

// Counts returns the answers seen per version since the last call, and
// resets them.
func (t *Traffic) Counts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts
	t.counts = map[string]int{}
	return c
}
