package offline

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// What each metric needs of an answer (output) and of the dataset
// (expected):
//
//	accuracy              any JSON values, equal as JSON
//	precision, recall, f1 class labels; positive when their text is the positive class
//	auc                   output a numeric score, expected a class label
//	log_loss              output the probability (0..1) of the positive class, expected a class label
//	mae, rmse             numbers
//
// The text of a label is a string as is, a number as JSON writes it, true
// or false: positive = "1" matches 1, 1.0 and "1".

// logLossEps clips probabilities away from 0 and 1, so that one confident
// wrong answer costs log(1e15) ≈ 34.5 and not infinity; the router's
// label scoring clips alike.
const logLossEps = behaviour.LogLossEps

// pair is one answered sample.
type pair struct{ got, want any }

// checkPair says why a metric cannot use an answered sample ("" when it can).
func checkPair(metric string, p pair) string {
	switch metric {
	case "auc", "log_loss":
		s, ok := p.got.(float64)
		if !ok {
			return fmt.Sprintf("%s needs a numeric output, got %s", metric, compact(p.got))
		}
		if metric == "log_loss" && (s < 0 || s > 1) {
			return fmt.Sprintf("log_loss needs a probability from 0 to 1, got %s", compact(p.got))
		}
	case "mae", "rmse":
		_, ok1 := p.got.(float64)
		_, ok2 := p.want.(float64)
		if !ok1 || !ok2 {
			return fmt.Sprintf("%s needs numbers, got output %s and expected %s", metric, compact(p.got), compact(p.want))
		}
	}
	return ""
}

// labelText is the text form of a class label (see above).
func labelText(v any) string {
	if t := behaviour.LabelText(v); t != "" || v == "" {
		return t
	}
	return compact(v)
}

// metricValue computes a metric over the usable pairs. failed is the
// number of failed requests, which accuracy counts as misses. An error says
// why the metric is undefined on these pairs (auc with one class only).
func metricValue(metric, positive string, pairs []pair, failed int) (float64, error) {
	if len(pairs) == 0 {
		return 0, fmt.Errorf("no answered sample to compute %s on", metric)
	}
	n := float64(len(pairs))
	switch metric {
	case "accuracy":
		hits := 0
		for _, p := range pairs {
			if reflect.DeepEqual(p.got, p.want) {
				hits++
			}
		}
		return float64(hits) / float64(len(pairs)+failed), nil
	case "precision", "recall", "f1":
		var tp, fp, fn float64
		for _, p := range pairs {
			pred, act := labelText(p.got) == positive, labelText(p.want) == positive
			switch {
			case pred && act:
				tp++
			case pred:
				fp++
			case act:
				fn++
			}
		}
		prec, rec := ratio(tp, tp+fp), ratio(tp, tp+fn)
		switch metric {
		case "precision":
			return prec, nil
		case "recall":
			return rec, nil
		}
		return ratio(2*prec*rec, prec+rec), nil
	case "auc":
		return auc(pairs, positive)
	case "log_loss":
		var sum float64
		for _, p := range pairs {
			q := math.Min(math.Max(p.got.(float64), logLossEps), 1-logLossEps)
			if labelText(p.want) == positive {
				sum -= math.Log(q)
			} else {
				sum -= math.Log(1 - q)
			}
		}
		return sum / n, nil
	case "mae", "rmse":
		var abs, sq float64
		for _, p := range pairs {
			d := p.got.(float64) - p.want.(float64)
			abs += math.Abs(d)
			sq += d * d
		}
		if metric == "mae" {
			return abs / n, nil
		}
		return math.Sqrt(sq / n), nil
	}
	return 0, fmt.Errorf("unknown metric %q", metric)
}

// ratio is a/b, 0 when b is 0 (precision with no predicted positive).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// auc is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting one half (the
// Mann-Whitney U statistic from mid-ranks).
func auc(pairs []pair, positive string) (float64, error) {
	type scored struct {
		s   float64
		pos bool
	}
	xs := make([]scored, len(pairs))
	var npos float64
	for i, p := range pairs {
		xs[i] = scored{p.got.(float64), labelText(p.want) == positive}
		if xs[i].pos {
			npos++
		}
	}
	nneg := float64(len(xs)) - npos
	if npos == 0 || nneg == 0 {
		return 0, fmt.Errorf("auc needs both classes among the expected values (positive %q: %v of %d samples)", positive, npos, len(xs))
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].s < xs[j].s })
	var rankSum float64
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j].s == xs[i].s {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of the 1-based ranks i+1..j
		for k := i; k < j; k++ {
			if xs[k].pos {
				rankSum += mid
			}
		}
		i = j
	}
	return (rankSum - npos*(npos+1)/2) / (npos * nneg), nil
}

// worse is how much worse value a is than b, positive when worse, given
// the metric's direction.
func worse(metric string, a, b float64) float64 {
	if spec.MetricLowerIsBetter(metric) {
		return a - b
	}
	return b - a
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return snippet(b)
}
