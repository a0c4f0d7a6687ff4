package offline

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

// side is one version's answers to the dataset, scored.
type side struct {
	value      float64
	metricErr  string // why the metric is undefined, if it is
	lats       []time.Duration
	errors     int
	skipped    int
	firstError string
}

// evaluate scores one version's outcomes. A sample whose answer the metric
// cannot use (a string where a number is needed) counts as a failed
// request.
func evaluate(metric, positive string, samples []Sample, outs []outcome) side {
	var sd side
	var pairs []pair
	fail := func(msg string) {
		sd.errors++
		if sd.firstError == "" {
			sd.firstError = msg
		}
	}
	for i, o := range outs {
		if o.skipped {
			sd.skipped++
			continue
		}
		if o.err != nil {
			fail(o.err.Error())
			continue
		}
		sd.lats = append(sd.lats, o.latency)
		var want any
		_ = json.Unmarshal(samples[i].Expected, &want) // validated when read
		p := pair{got: o.output, want: want}
		if why := checkPair(metric, p); why != "" {
			fail(fmt.Sprintf("sample %d: %s", i+1, why))
			continue
		}
		pairs = append(pairs, p)
	}
	v, err := metricValue(metric, positive, pairs, sd.errors+sd.skipped)
	if err != nil {
		sd.metricErr = err.Error()
	}
	sd.value = round(v)
	return sd
}

// judge computes the metric and the latency p99 from the outcomes and
// compares them with the thresholds and, when base is not nil, with the
// baseline's figures on the same samples.
func judge(res *Result, samples []Sample, outs []outcome, base []outcome) {
	res.Samples = len(samples)
	c := evaluate(res.Metric, res.positive(), samples, outs)
	res.Value, res.Errors, res.Skipped, res.FirstError = c.value, c.errors, c.skipped, c.firstError
	res.LatencyP99 = round(p99(c.lats).Seconds())

	var why []string
	if res.Errors > 0 {
		why = append(why, fmt.Sprintf("%d of %d requests failed (first: %s)", res.Errors, res.Samples-res.Skipped, res.FirstError))
	}
	if res.Skipped > 0 {
		why = append(why, fmt.Sprintf("stopped after %d failures: %d of %d samples not sent", res.Errors, res.Skipped, res.Samples))
	}
	if c.metricErr != "" && res.Errors == 0 {
		why = append(why, c.metricErr)
	}
	if res.Threshold != nil && c.metricErr == "" {
		t := *res.Threshold
		switch {
		case res.Bound == "min" && res.Value < t:
			why = append(why, fmt.Sprintf("%s %s < min %s", res.Metric, fmtNum(res.Value), fmtNum(t)))
		case res.Bound == "max" && res.Value > t:
			why = append(why, fmt.Sprintf("%s %s > max %s", res.Metric, fmtNum(res.Value), fmtNum(t)))
		}
	}
	if res.MaxLatencyP99 != nil && len(c.lats) > 0 && res.LatencyP99 > *res.MaxLatencyP99 {
		why = append(why, fmt.Sprintf("latency p99 %ss > max_latency_p99 %ss", fmtNum(res.LatencyP99), fmtNum(*res.MaxLatencyP99)))
	}
	if b := res.Baseline; b != nil && base != nil {
		bs := evaluate(res.Metric, res.positive(), samples, base)
		b.Value, b.Errors, b.FirstError = bs.value, bs.errors, bs.firstError
		b.LatencyP99 = round(p99(bs.lats).Seconds())
		switch {
		case bs.metricErr != "" || c.metricErr != "":
			b.Note = "no comparison: " + firstNonEmpty(bs.metricErr, c.metricErr)
		default:
			r := round(worse(res.Metric, res.Value, b.Value))
			b.Regression = &r
			if b.MaxRegression != nil && r > *b.MaxRegression {
				why = append(why, fmt.Sprintf("%s %s is %s worse than %s's %s (max_regression %s)",
					res.Metric, fmtNum(res.Value), fmtNum(r), b.Version, fmtNum(b.Value), fmtNum(*b.MaxRegression)))
			}
		}
		if bs.errors > 0 && b.Note == "" {
			b.Note = fmt.Sprintf("%d of %d requests to %s failed (first: %s)", bs.errors, res.Samples, b.Version, bs.firstError)
		}
	}
	res.Passed = len(why) == 0
	if res.Passed {
		res.Reason = fmt.Sprintf("%s %s, latency p99 %ss over %d samples", res.Metric, fmtNum(res.Value), fmtNum(res.LatencyP99), res.Samples)
		if b := res.Baseline; b != nil && b.Regression != nil {
			res.Reason += fmt.Sprintf("; %s %s %s", b.Version, res.Metric, fmtNum(b.Value))
		}
	} else {
		res.Reason = strings.Join(why, "; ")
	}
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
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

// parsePointer parses an RFC 6901 JSON pointer ("" is the whole
// document).
func parsePointer(p string) (behaviour.Pointer, error) { return behaviour.ParsePointer(p) }

// lookup follows a parsed JSON pointer into a decoded document.
func lookup(doc any, p behaviour.Pointer) (any, error) {
	v, ok, at, container := p.Lookup(doc)
	switch {
	case ok:
		return v, nil
	case container:
		return nil, fmt.Errorf("answer has no %s", p.Prefix(at+1))
	}
	return nil, fmt.Errorf("answer has no %s (not an object or array there)", p.Prefix(at+1))
}
