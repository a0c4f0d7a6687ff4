package offline

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// judge computes the metric and the latency p99 from the outcomes and
// compares them with the thresholds.
func judge(res *Result, samples []Sample, outs []outcome) {
	res.Samples = len(samples)
	var (
		lats          []time.Duration
		hits, n       int
		absSum, sqSum float64
	)
	for i, o := range outs {
		if o.skipped {
			res.Skipped++
			continue
		}
		if o.err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = o.err.Error()
			}
			continue
		}
		lats = append(lats, o.latency)
		var want any
		_ = json.Unmarshal(samples[i].Expected, &want) // validated when read
		switch res.Metric {
		case "accuracy":
			if reflect.DeepEqual(o.output, want) {
				hits++
			}
		default:
			got, ok1 := o.output.(float64)
			exp, ok2 := want.(float64)
			if !ok1 || !ok2 {
				res.Errors++
				if res.FirstError == "" {
					res.FirstError = fmt.Sprintf("sample %d: %s needs numbers, got output %s and expected %s",
						i+1, res.Metric, compact(o.output), compact(want))
				}
				continue
			}
			d := got - exp
			absSum += math.Abs(d)
			sqSum += d * d
			n++
		}
	}
	switch res.Metric {
	case "accuracy":
		res.Value = float64(hits) / float64(len(samples))
	case "mae":
		if n > 0 {
			res.Value = absSum / float64(n)
		}
	case "rmse":
		if n > 0 {
			res.Value = math.Sqrt(sqSum / float64(n))
		}
	}
	res.Value = round(res.Value)
	res.LatencyP99 = round(p99(lats).Seconds())

	var why []string
	if res.Errors > 0 {
		why = append(why, fmt.Sprintf("%d of %d requests failed (first: %s)", res.Errors, res.Samples-res.Skipped, res.FirstError))
	}
	if res.Skipped > 0 {
		why = append(why, fmt.Sprintf("stopped after %d failures: %d of %d samples not sent", res.Errors, res.Skipped, res.Samples))
	}
	if res.Threshold != nil {
		t := *res.Threshold
		switch {
		case res.Bound == "min" && res.Value < t:
			why = append(why, fmt.Sprintf("%s %s < min %s", res.Metric, fmtNum(res.Value), fmtNum(t)))
		case res.Bound == "max" && res.Value > t:
			why = append(why, fmt.Sprintf("%s %s > max %s", res.Metric, fmtNum(res.Value), fmtNum(t)))
		}
	}
	if res.MaxLatencyP99 != nil && len(lats) > 0 && res.LatencyP99 > *res.MaxLatencyP99 {
		why = append(why, fmt.Sprintf("latency p99 %ss > max_latency_p99 %ss", fmtNum(res.LatencyP99), fmtNum(*res.MaxLatencyP99)))
	}
	res.Passed = len(why) == 0
	if res.Passed {
		res.Reason = fmt.Sprintf("%s %s, latency p99 %ss over %d samples", res.Metric, fmtNum(res.Value), fmtNum(res.LatencyP99), res.Samples)
	} else {
		res.Reason = strings.Join(why, "; ")
	}
}

// p99 is the nearest-rank 99th percentile.
func p99(lats []time.Duration) time.Duration {
	if len(lats) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lats...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(0.99*float64(len(s)))) - 1
	return s[max(rank, 0)]
}

func round(f float64) float64 { return math.Round(f*1e6) / 1e6 }

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func compact(v any) string {
	b, _ := json.Marshal(v)
	return snippet(b)
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped tokens.
// "" is the whole document.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("a JSON pointer starts with \"/\" (RFC 6901)")
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// lookup follows a parsed JSON pointer into a decoded document.
func lookup(doc any, ptr []string) (any, error) {
	cur := doc
	for i, tok := range ptr {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("answer has no %s", pointerString(ptr[:i+1]))
			}
			cur = v
		case []any:
			idx, err := strconv.Atoi(tok)
			if err != nil || idx < 0 || idx >= len(c) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("answer has no %s", pointerString(ptr[:i+1]))
			}
			cur = c[idx]
		default:
			return nil, fmt.Errorf("answer has no %s (not an object or array there)", pointerString(ptr[:i+1]))
		}
	}
	return cur, nil
}

func pointerString(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
