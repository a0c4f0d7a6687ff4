// Package offline runs a version's offline validation (SPEC.md §1 and §8,
// validation): it POSTs every input of a dataset (JSON lines or CSV) to the
// model, and to the serving version when the validation has a baseline,
// compares the answers with the expected outputs and judges the metric, the
// regression against the baseline and the latency against the version's
// thresholds.
package offline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Defaults of a Runner whose fields are zero.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 10 * time.Second
	DefaultMaxSamples  = 100000
	DefaultMaxFailures = 10
	maxResponseBytes   = 8 << 20
	maxLineBytes       = 16 << 20
)

// Doer sends one HTTP request; *http.Client satisfies it.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Runner runs validations. The zero value is not usable: set Client.
type Runner struct {
	Client      Doer
	Concurrency int           // requests in flight at once (default 8)
	Timeout     time.Duration // per request (default 10s)
	MaxSamples  int           // dataset lines read at most (default 100000)
	// MaxFailures stops the run once this many requests failed (default
	// 10): the validation has failed anyway, and a model that hangs would
	// otherwise hold the job for samples × timeout / concurrency.
	MaxFailures int
	Now         func() time.Time // clock for latencies (default time.Now)
}

// Result is the outcome of one validation. It is the "validation" evidence
// of the policy input.
type Result struct {
	Passed bool   `json:"passed"`
	Metric string `json:"metric"`
	// Value is the metric over the answered samples (accuracy counts a
	// failed request as a miss).
	Value float64 `json:"value"`
	// Positive is the positive class of a class metric (precision, recall,
	// f1, auc, log_loss).
	Positive string `json:"positive,omitempty"`
	// Threshold is the bound Value is judged against; Bound says which
	// ("min" when higher is better, "max" for log_loss, mae and rmse, ""
	// when none is set).
	Threshold     *float64 `json:"threshold,omitempty"`
	Bound         string   `json:"bound,omitempty"`
	LatencyP99    float64  `json:"latency_p99"` // seconds, over answered requests
	MaxLatencyP99 *float64 `json:"max_latency_p99,omitempty"`
	Samples       int      `json:"samples"`
	Errors        int      `json:"errors"`
	// Skipped samples were not sent: the run stopped after MaxFailures.
	Skipped int `json:"skipped,omitempty"`
	// FirstError describes the first failed request, if any.
	FirstError string `json:"first_error,omitempty"`
	// Reason says why the validation failed, or summarizes a pass.
	Reason string `json:"reason"`
	URL    string `json:"url"`
	// Baseline is the serving version's figures on the same samples, when
	// the validation asks for them (baseline = "serve").
	Baseline *Baseline `json:"baseline,omitempty"`
}

func (r *Result) positive() string {
	if r.Positive == "" {
		return spec.DefaultPositive
	}
	return r.Positive
}

// Baseline is the version serving now, run on the same samples as the
// candidate and scored the same way.
type Baseline struct {
	Version    string  `json:"version"`
	URL        string  `json:"url,omitempty"`
	Value      float64 `json:"value"`
	LatencyP99 float64 `json:"latency_p99"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	// Regression is how much worse the candidate's value is than the
	// baseline's (negative: better), in the metric's units and direction;
	// nil when they could not be compared (see Note).
	Regression    *float64 `json:"regression,omitempty"`
	MaxRegression *float64 `json:"max_regression,omitempty"`
	// Note says why there is no comparison, or that the baseline failed
	// some requests (the candidate is not failed for those).
	Note string `json:"note,omitempty"`
}

// Sample is one line of a dataset.
type Sample struct {
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
}

// Run validates version v of a model: the dataset is read from fsys (the
// repository's tree), each input POSTed to the validation url (default the
// version's url). An error is returned only when the validation cannot run
// at all (no validation block, unreadable or malformed dataset); failed
// requests are counted in Result.Errors and fail the validation.
func (r *Runner) Run(ctx context.Context, fsys fs.FS, v *spec.Version) (Result, error) {
	return r.Compare(ctx, fsys, v, nil)
}

// BaselineURL is where a baseline version's rows are POSTed: its own
// validation url when it has one, else its url.
func BaselineURL(base *spec.Version) string {
	if base.Validation != nil && base.Validation.URL != "" {
		return base.Validation.URL
	}
	return base.URL
}

// Compare is Run that, when v's validation has baseline = "serve", also
// runs serving (the version serving now) on the same samples and judges
// max_regression. serving nil, or v itself, leaves the comparison out with
// a note saying so.
func (r *Runner) Compare(ctx context.Context, fsys fs.FS, v, serving *spec.Version) (Result, error) {
	if v == nil || v.Validation == nil {
		return Result{}, errors.New("offline validation: the version has no validation block")
	}
	val := v.Validation
	url := val.URL
	if url == "" {
		url = v.URL
	}
	res := Result{Metric: val.Metric, URL: url, MaxLatencyP99: val.MaxLatencyP99}
	if res.Metric == "" {
		res.Metric = spec.DefaultValidationMetric
	}
	switch res.Metric {
	case "accuracy", "mae", "rmse":
	case "precision", "recall", "f1", "auc", "log_loss":
		res.Positive = val.Positive
		if res.Positive == "" {
			res.Positive = spec.DefaultPositive
		}
	default:
		return res, fmt.Errorf("offline validation of %s: unknown metric %q (want accuracy, precision, recall, f1, auc, log_loss, mae or rmse)", v.Name, res.Metric)
	}
	if spec.MetricLowerIsBetter(res.Metric) {
		res.Threshold, res.Bound = val.Max, "max"
	} else {
		res.Threshold, res.Bound = val.Min, "min"
	}
	if res.Threshold == nil {
		res.Bound = ""
	}
	ptr, err := parsePointer(val.Output)
	if err != nil {
		return res, fmt.Errorf("offline validation of %s: output %q: %w", v.Name, val.Output, err)
	}
	samples, err := r.readDataset(fsys, val.Dataset)
	if err != nil {
		return res, fmt.Errorf("offline validation of %s: %w", v.Name, err)
	}
	if len(samples) == 0 {
		return res, fmt.Errorf("offline validation of %s: dataset %s has no samples", v.Name, val.Dataset)
	}
	var baseOuts []outcome
	if val.Baseline != "" {
		res.Baseline = &Baseline{MaxRegression: val.MaxRegression}
		switch {
		case serving == nil:
			res.Baseline.Note = "no version serves now: nothing to compare with"
		case serving.Name == v.Name:
			res.Baseline.Version = serving.Name
			res.Baseline.Note = v.Name + " is the serving version itself"
		default:
			res.Baseline.Version, res.Baseline.URL = serving.Name, BaselineURL(serving)
			baseOuts = r.query(ctx, res.Baseline.URL, ptr, samples)
		}
	}
	outs := r.query(ctx, url, ptr, samples)
	judge(&res, samples, outs, baseOuts)
	return res, nil
}

// outcome is the answer to one sample.
type outcome struct {
	output  any
	latency time.Duration
	err     error
	skipped bool // not sent, or cut short when the run stopped
}

// query sends every sample with bounded concurrency and returns the
// outcomes in sample order. After MaxFailures failed requests the rest are
// skipped (outcome.skipped).
func (r *Runner) query(ctx context.Context, url string, ptr behaviour.Pointer, samples []Sample) []outcome {
	n := r.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	limit := r.MaxFailures
	if limit <= 0 {
		limit = DefaultMaxFailures
	}
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var failures atomic.Int64
	outs := make([]outcome, len(samples))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(n, len(samples)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if stopCtx.Err() != nil && ctx.Err() == nil {
					outs[i] = outcome{skipped: true}
					continue
				}
				o := r.one(stopCtx, url, ptr, samples[i].Input)
				if errors.Is(o.err, context.Canceled) && stopCtx.Err() != nil && ctx.Err() == nil {
					o = outcome{skipped: true} // cut short by the stop, not by the model
				}
				outs[i] = o
				if o.err != nil && failures.Add(1) >= int64(limit) {
					stop()
				}
			}
		}()
	}
	for i := range samples {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outs
}

func (r *Runner) one(ctx context.Context, url string, ptr behaviour.Pointer, input json.RawMessage) outcome {
	if err := ctx.Err(); err != nil {
		return outcome{err: err}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(input))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	start := now()
	resp, err := r.Client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return outcome{err: fmt.Errorf("POST %s: no answer within %s", url, timeout)}
		}
		return outcome{err: fmt.Errorf("POST %s: %w", url, err)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	lat := now().Sub(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return outcome{err: fmt.Errorf("POST %s: no answer within %s", url, timeout)}
		}
		return outcome{err: fmt.Errorf("POST %s: reading the answer: %w", url, err)}
	}
	if resp.StatusCode/100 != 2 {
		return outcome{err: fmt.Errorf("POST %s: status %d: %s", url, resp.StatusCode, snippet(body))}
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return outcome{err: fmt.Errorf("POST %s: answer is not JSON: %s", url, snippet(body))}
	}
	out, err := lookup(doc, ptr)
	if err != nil {
		return outcome{err: fmt.Errorf("POST %s: %w", url, err)}
	}
	return outcome{output: out, latency: lat}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
