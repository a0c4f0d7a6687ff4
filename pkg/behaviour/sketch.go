// Package behaviour keeps the statistics of a model's answers that the
// behaviour checks judge (SPEC.md §8): per-second mergeable sketches of an
// output (numbers in fine log-scale buckets, classes as counts), the
// population stability index between two sketches with an analytic lower
// confidence bound, and the scoring of outputs against labels that arrive
// later. It is pure: no clock but the one passed in, no I/O.
package behaviour

import (
	"math"
	"sort"
)

// Numbers go into fine buckets fixed by the bits of the float64: sign,
// exponent and the top MantissaBits bits of the mantissa, so a bucket is
// at most 1/2^MantissaBits (about 3%) wide relative to its values. The
// buckets do not depend on the data, so sketches of any seconds, versions
// or router replicas merge by adding counts, and nothing needs to be
// learnt before a rollout. The bins PSI compares are chosen when judging,
// at the quantiles of the two sketches pooled (Drift): the same as fixed
// edges learnt from the previous version, without shipping edges to the
// router. A mergeable quantile sketch (t-digest, KLL) would need a
// randomised or order-dependent merge; this one is exact up to the bucket
// width and costs one map increment per answer.
const MantissaBits = 5

// DefaultMaxCategories bounds the distinct classes a sketch counts; later
// classes are counted under Other.
const DefaultMaxCategories = 64

// maxCategoryLen bounds a class's name; longer ones are cut.
const maxCategoryLen = 64

// Other is the category of classes past the bound, Missing the bin of
// answers without a usable output (no such field, wrong type, not JSON).
const (
	Other   = "(other)"
	Missing = "(missing)"
)

// Sketch summarises the outputs of one version's answers over some
// seconds. The zero value is empty and ready; it is not safe for
// concurrent use.
type Sketch struct {
	// Buckets counts numeric outputs by BucketOf key.
	Buckets map[int32]uint64 `json:"buckets,omitempty"`
	// Categories counts string (and boolean) outputs.
	Categories map[string]uint64 `json:"categories,omitempty"`
	// Missing counts answers whose output was absent or unusable.
	Missing uint64 `json:"missing,omitempty"`
	// Count, Sum and SumSq are over the numeric outputs.
	Count uint64  `json:"count"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
	// MaxCategories bounds Categories (0: DefaultMaxCategories).
	MaxCategories int `json:"-"`
}

// BucketOf is the bucket key of a finite number: ordered like the numbers,
// 0 for zero (and subnormals), negative for negative numbers.
func BucketOf(v float64) int32 {
	neg := v < 0
	b := math.Float64bits(math.Abs(v))
	k := int32(b >> (52 - MantissaBits)) // exponent and top mantissa bits
	if neg {
		return -k - 1
	}
	return k
}

// BucketLower is the smallest number in a bucket (its largest in
// magnitude for negative keys, so that keys and bounds order alike).
func BucketLower(k int32) float64 {
	if k < 0 {
		return -math.Float64frombits(uint64(-k) << (52 - MantissaBits))
	}
	return math.Float64frombits(uint64(k) << (52 - MantissaBits))
}

// AddNumber counts a numeric output; NaN and infinities count as missing.
func (s *Sketch) AddNumber(v float64) { s.AddNumberN(v, 1) }

// AddNumberN counts n equal numeric outputs.
func (s *Sketch) AddNumberN(v float64, n uint64) {
	if n == 0 {
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		s.Missing += n
		return
	}
	if s.Buckets == nil {
		s.Buckets = map[int32]uint64{}
	}
	s.Buckets[BucketOf(v)] += n
	s.Count += n
	s.Sum += v * float64(n)
	s.SumSq += v * v * float64(n)
}

// AddCategory counts a class output.
func (s *Sketch) AddCategory(c string) { s.AddCategoryN(c, 1) }

// AddCategoryN counts n equal class outputs.
func (s *Sketch) AddCategoryN(c string, n uint64) {
	if len(c) > maxCategoryLen {
		c = c[:maxCategoryLen]
	}
	if s.Categories == nil {
		s.Categories = map[string]uint64{}
	}
	if _, ok := s.Categories[c]; !ok && c != Other {
		limit := s.MaxCategories
		if limit <= 0 {
			limit = DefaultMaxCategories
		}
		if len(s.Categories) >= limit {
			c = Other
		}
	}
	s.Categories[c] += n
}

// AddMissing counts an answer without a usable output.
func (s *Sketch) AddMissing() { s.Missing++ }

// Merge adds o's counts to s.
func (s *Sketch) Merge(o Sketch) {
	for k, n := range o.Buckets {
		if s.Buckets == nil {
			s.Buckets = make(map[int32]uint64, len(o.Buckets))
		}
		s.Buckets[k] += n
	}
	for c, n := range o.Categories {
		s.AddCategoryN(c, n)
	}
	s.Missing += o.Missing
	s.Count += o.Count
	s.Sum += o.Sum
	s.SumSq += o.SumSq
}

// Clone is a deep copy.
func (s Sketch) Clone() Sketch {
	var c Sketch
	c.MaxCategories = s.MaxCategories
	c.Merge(s)
	return c
}

// Answers is every answer counted: numbers, classes and missing.
func (s Sketch) Answers() uint64 {
	n := s.Count + s.Missing
	for _, c := range s.Categories {
		n += c
	}
	return n
}

// Mean is the mean of the numeric outputs (NaN when there are none).
func (s Sketch) Mean() float64 {
	if s.Count == 0 {
		return math.NaN()
	}
	return s.Sum / float64(s.Count)
}

// Numeric says whether the sketch holds more numbers than classes.
func (s Sketch) Numeric() bool {
	var cats uint64
	for _, c := range s.Categories {
		cats += c
	}
	return s.Count >= cats && s.Count > 0
}

// keys is the sorted bucket keys.
func (s Sketch) keys() []int32 {
	out := make([]int32, 0, len(s.Buckets))
	for k := range s.Buckets {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
