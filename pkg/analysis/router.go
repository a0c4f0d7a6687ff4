package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// StatsFunc returns what a builtin router measured over the last window:
// the router's own method in-process, or StatsClient.Stats over its
// admin API.
type StatsFunc func(ctx context.Context, window time.Duration) (traffic.Stats, error)

// RouterSource reads the builtin router's metrics from its stats.
type RouterSource struct {
	Stats StatsFunc
	// Mirrored names the version whose mirrored copies (a blue_green
	// preview_mirror, counted on its shadow entry) are its requests too
	// for error_rate and the latency quantiles: their clients got another
	// version's answer, but the copies were answered by this one.
	Mirrored string
}

// Snapshot reads the stats once and returns a source answering from them.
func (s RouterSource) Snapshot(ctx context.Context, window time.Duration) (Source, error) {
	st, err := s.Stats(ctx, window)
	if err != nil {
		return nil, fmt.Errorf("reading router stats: %w", err)
	}
	return RouterSource{Stats: func(context.Context, time.Duration) (traffic.Stats, error) { return st, nil }, Mirrored: s.Mirrored}, nil
}

// Query computes q.Metric for q.Version and q.Baseline from one stats
// snapshot, so both come from the same window. Requests is the version's
// request count in the window; a version absent from the stats has 0. The
// baseline counts only with at least max(1, q.MinRequests) requests.
func (s RouterSource) Query(ctx context.Context, q Query) (Result, error) {
	st, err := s.Stats(ctx, q.Window)
	if err != nil {
		return Result{}, fmt.Errorf("reading router stats: %w", err)
	}
	vs, _ := st.Find(q.Model, q.Stage, q.Version)
	if isBehaviour(q.Metric) {
		return behaviourQuery(st, q, vs)
	}
	if q.Version == s.Mirrored && q.Version != "" && mirrorable(q.Metric) {
		vs = withMirrored(vs)
	}
	v, err := routerMetric(q.Metric, vs)
	if err != nil {
		return Result{}, err
	}
	r := Result{Value: v, Requests: vs.Requests}
	if q.Baseline != "" && q.Baseline != q.Version {
		bs, ok := st.Find(q.Model, q.Stage, q.Baseline)
		if ok && bs.Requests > 0 && bs.Requests >= int64(q.MinRequests) {
			r.Baseline, _ = routerMetric(q.Metric, bs)
			r.HasBaseline = true
			r.BaselineRequests = bs.Requests
		}
	}
	return r, nil
}

// mirrorable says whether a mirrored copy measures metric: its errors
// and latency do, not its time to first byte (not measured on copies) or
// the request rate (the version's own traffic).
func mirrorable(metric string) bool {
	switch metric {
	case "error_rate", "latency_p50", "latency_p90", "latency_p99":
		return true
	}
	return false
}

// withMirrored counts a version's mirrored copies as its requests: every
// compared copy (a failed one is an error) and the higher of each latency
// quantile of its own requests and of the copies, so that neither hides
// the other.
func withMirrored(vs traffic.VersionStats) traffic.VersionStats {
	if vs.ShadowPairs == 0 {
		return vs
	}
	if vs.Requests == 0 {
		vs.LatencyP50, vs.LatencyP90, vs.LatencyP99 = vs.ShadowLatencyP50, vs.ShadowLatencyP90, vs.ShadowLatencyP99
	} else {
		vs.LatencyP50 = max(vs.LatencyP50, vs.ShadowLatencyP50)
		vs.LatencyP90 = max(vs.LatencyP90, vs.ShadowLatencyP90)
		vs.LatencyP99 = max(vs.LatencyP99, vs.ShadowLatencyP99)
	}
	vs.Requests += vs.ShadowPairs
	vs.Errors += vs.ShadowErrors
	return vs
}

// routerMetric is one router metric of one version's stats.
func routerMetric(metric string, vs traffic.VersionStats) (float64, error) {
	switch metric {
	case "error_rate":
		if vs.Requests <= 0 {
			return 0, nil
		}
		return float64(vs.Errors) / float64(vs.Requests), nil
	case "latency_p50":
		return vs.LatencyP50, nil
	case "latency_p90":
		return vs.LatencyP90, nil
	case "latency_p99":
		return vs.LatencyP99, nil
	case "ttfb_p50":
		return vs.TTFBP50, nil
	case "ttfb_p90":
		return vs.TTFBP90, nil
	case "ttfb_p99":
		return vs.TTFBP99, nil
	case "request_rate":
		return vs.RequestRate, nil
	case "":
		return 0, fmt.Errorf("the router source needs a metric (error_rate, latency_p50, latency_p90, latency_p99, ttfb_p50, ttfb_p90, ttfb_p99, request_rate)")
	}
	return 0, fmt.Errorf("unknown router metric %q (want error_rate, latency_p50, latency_p90, latency_p99, ttfb_p50, ttfb_p90, ttfb_p99 or request_rate)", metric)
}

// StatsClient reads a standalone builtin router's stats over its admin
// API: GET /v1/stats?window=10s with a bearer token.
type StatsClient struct {
	// BaseURL is the admin listener, e.g. http://127.0.0.1:8081.
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

// Stats fetches the router's stats over the last window.
func (c *StatsClient) Stats(ctx context.Context, window time.Duration) (traffic.Stats, error) {
	return c.get(ctx, "window="+url.QueryEscape(window.String()))
}

// StatsRange fetches the router's stats of one model at one stage (model
// "": every model) over the whole seconds from from up to, not including,
// to's second (Router.ModelStatsRange). A router that does not know the
// model and stage parameters answers every model, which holds this one.
func (c *StatsClient) StatsRange(ctx context.Context, model, stage string, from, to time.Time) (traffic.Stats, error) {
	q := "from=" + strconv.FormatInt(from.Unix(), 10) + "&to=" + strconv.FormatInt(to.Unix(), 10)
	if model != "" {
		q += "&model=" + url.QueryEscape(model) + "&stage=" + url.QueryEscape(stage)
	}
	return c.get(ctx, q)
}

func (c *StatsClient) get(ctx context.Context, query string) (traffic.Stats, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/stats?"+query, nil)
	if err != nil {
		return traffic.Stats{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return traffic.Stats{}, fmt.Errorf("router stats from %s: reading the body: %w", c.BaseURL, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return traffic.Stats{}, fmt.Errorf("router stats from %s: %s: check the router's admin token", c.BaseURL, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return traffic.Stats{}, fmt.Errorf("router stats from %s: %s: %s", c.BaseURL, resp.Status, snippet(body))
	}
	var st traffic.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		return traffic.Stats{}, fmt.Errorf("router stats from %s: decoding: %w", c.BaseURL, err)
	}
	return st, nil
}

// Batch fetches many models' stats in one request (POST /v1/stats), one
// Stats per query in order. A router without the endpoint answers an
// error; the caller then reads model by model.
func (c *StatsClient) Batch(ctx context.Context, qs []traffic.StatsQuery) ([]traffic.Stats, error) {
	body, err := json.Marshal(traffic.StatsBatch{Queries: qs})
	if err != nil {
		return nil, fmt.Errorf("router stats: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/stats", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, fmt.Errorf("router stats from %s: POST: %s: %s", c.BaseURL, resp.Status, snippet(msg))
	}
	var a traffic.StatsBatchAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("router stats from %s: decoding: %w", c.BaseURL, err)
	}
	if len(a.Stats) != len(qs) {
		return nil, fmt.Errorf("router stats from %s: %d answers to %d queries", c.BaseURL, len(a.Stats), len(qs))
	}
	return a.Stats, nil
}

// do sends one request to the admin API with the token, a JSON body when
// there is one.
func (c *StatsClient) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("router stats: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("router stats from %s: %w", c.BaseURL, err)
	}
	return resp, nil
}

// snippet is the start of a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Arms reads the reward counts of an experiment's variants from router
// stats, in the order given, for SequentialTest and ProbBest.
func Arms(st traffic.Stats, model, stage string, variants []string) []Arm {
	out := make([]Arm, len(variants))
	for i, v := range variants {
		vs, _ := st.Find(model, stage, v)
		out[i] = Arm{Name: v, N: vs.Rewards, Sum: vs.RewardSum, SumSq: vs.RewardSumSq}
	}
	return out
}
