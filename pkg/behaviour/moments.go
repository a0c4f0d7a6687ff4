package behaviour

import "math"

// Moments are the count, sum and sum of squares of one per-answer
// quantity: enough for its mean, the variance of that mean, and a
// confidence bound. They merge by addition, so windows pool exactly.
type Moments struct {
	N     uint64  `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
}

// Merge adds o to m.
func (m *Moments) Merge(o Moments) {
	m.N += o.N
	m.Sum += o.Sum
	m.SumSq += o.SumSq
}

// Mean is Sum / N (NaN when N is 0).
func (m Moments) Mean() float64 { return ratio(m.Sum, m.N) }

// Var is the variance of one answer's quantity (the population form,
// never below 0; NaN when N is 0).
func (m Moments) Var() float64 {
	if m.N == 0 {
		return math.NaN()
	}
	mean := m.Mean()
	return math.Max(0, m.SumSq/float64(m.N)-mean*mean)
}

// Moments of the numeric outputs of a sketch (output_mean).
func (s Sketch) Moments() Moments { return Moments{N: s.Count, Sum: s.Sum, SumSq: s.SumSq} }

// Moments are the per-answer moments behind a label metric: accuracy
// (1 when correct, else 0), mae (the absolute error), rmse (the squared
// error: the metric is the square root of their mean), log_loss (the
// loss). N is 0 for an unknown metric or when nothing was scored.
func (q Quality) Moments(name string) Moments {
	switch name {
	case "accuracy":
		return Moments{N: q.Labelled, Sum: float64(q.Correct), SumSq: float64(q.Correct)}
	case "mae":
		return Moments{N: q.Numeric, Sum: q.AbsErr, SumSq: q.SqErr}
	case "rmse":
		return Moments{N: q.Numeric, Sum: q.SqErr, SumSq: q.QuadErr}
	case "log_loss":
		return Moments{N: q.Probabilities, Sum: q.LogLoss, SumSq: q.LogLossSq}
	}
	return Moments{}
}
