package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Prometheus reads check values from the Prometheus HTTP API
// (/api/v1/query, instant queries at the server's current time).
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:9090.
	URL  string
	HTTP *http.Client // nil: http.DefaultClient
}

// ErrNoSeries is wrapped by Instant when a query returns no series.
var ErrNoSeries = errors.New("no series")

// Query runs q.Expr for q.Version and, when q.Baseline is set, for the
// baseline. The version's query must return exactly one series; a
// baseline query that returns none leaves HasBaseline false (the previous
// version may take no traffic). Requests is -1: Prometheus gives no count.
func (p *Prometheus) Query(ctx context.Context, q Query) (Result, error) {
	if strings.TrimSpace(q.Expr) == "" {
		return Result{}, fmt.Errorf("a prometheus check needs a query")
	}
	expr, err := Expand(q.Expr, q.Model, q.Stage, q.Version)
	if err != nil {
		return Result{}, err
	}
	v, err := p.Instant(ctx, expr)
	if err != nil {
		return Result{}, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Result{}, fmt.Errorf("prometheus query `%s` gave %v: no traffic in the window?", expr, v)
	}
	r := Result{Value: v, Requests: -1}
	if q.Baseline != "" && q.Baseline != q.Version {
		bexpr, _ := Expand(q.Expr, q.Model, q.Stage, q.Baseline)
		b, err := p.Instant(ctx, bexpr)
		switch {
		case errors.Is(err, ErrNoSeries):
		case err != nil:
			return Result{}, fmt.Errorf("baseline %s: %w", q.Baseline, err)
		case math.IsNaN(b) || math.IsInf(b, 0):
		default:
			r.Baseline, r.HasBaseline = b, true
		}
	}
	return r, nil
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Expand fills {{version}}, {{model}} and {{stage}} in a query template
// (spaces inside the braces allowed). Any other placeholder is an error.
func Expand(tmpl, model, stage, version string) (string, error) {
	var bad []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		switch placeholder.FindStringSubmatch(m)[1] {
		case "version":
			return version
		case "model":
			return model
		case "stage":
			return stage
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("query %q: unknown placeholder %s (known: {{version}}, {{model}}, {{stage}})", tmpl, strings.Join(bad, ", "))
	}
	return out, nil
}

// promResponse is the envelope of /api/v1/query.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// Instant runs an instant query and returns its single value: a scalar, or
// an instant vector of exactly one series.
func (p *Prometheus) Instant(ctx context.Context, expr string) (float64, error) {
	u := strings.TrimRight(p.URL, "/") + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus query `%s`: %w", expr, err)
	}
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus at %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, fmt.Errorf("prometheus at %s: reading the answer: %w", p.URL, err)
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return 0, fmt.Errorf("prometheus at %s: %s: not an API answer: %s", p.URL, resp.Status, snippet(body))
	}
	if pr.Status != "success" {
		return 0, fmt.Errorf("prometheus query `%s`: %s: %s", expr, pr.ErrorType, pr.Error)
	}
	switch pr.Data.ResultType {
	case "scalar":
		var sv [2]any
		if err := json.Unmarshal(pr.Data.Result, &sv); err != nil {
			return 0, fmt.Errorf("prometheus query `%s`: decoding scalar: %w", expr, err)
		}
		return sampleValue(expr, sv[1])
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(pr.Data.Result, &vec); err != nil {
			return 0, fmt.Errorf("prometheus query `%s`: decoding vector: %w", expr, err)
		}
		switch len(vec) {
		case 0:
			return 0, fmt.Errorf("prometheus query `%s`: %w: check the labels (is {{version}} in the right label?) and that the series exist in the window", expr, ErrNoSeries)
		case 1:
			return sampleValue(expr, vec[0].Value[1])
		}
		sets := make([]string, 0, 3)
		for i, s := range vec {
			if i == 3 {
				sets = append(sets, "...")
				break
			}
			sets = append(sets, labelSet(s.Metric))
		}
		return 0, fmt.Errorf("prometheus query `%s`: %d series (%s), want one: aggregate with sum(...) or filter the labels",
			expr, len(vec), strings.Join(sets, ", "))
	}
	return 0, fmt.Errorf("prometheus query `%s`: result type %q, want an instant vector or scalar", expr, pr.Data.ResultType)
}

// sampleValue parses a sample's value, which the API sends as a string.
func sampleValue(expr string, v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("prometheus query `%s`: sample value %v is not a string", expr, v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("prometheus query `%s`: sample value %q: %w", expr, s, err)
	}
	return f, nil
}

// labelSet prints labels as {a="1", b="2"}, sorted.
func labelSet(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
