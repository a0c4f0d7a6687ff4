package behaviour

import (
	"math"
	"math/rand/v2"
	"testing"
)

func normalSketch(rng *rand.Rand, n int, mean float64) Sketch {
	var s Sketch
	for range n {
		s.AddNumber(mean + rng.NormFloat64())
	}
	return s
}

func classSketch(rng *rand.Rand, n int, pFraud float64) Sketch {
	var s Sketch
	for range n {
		if rng.Float64() < pFraud {
			s.AddCategory("fraud")
		} else {
			s.AddCategory("ok")
		}
	}
	return s
}

func TestBucketsOrderLikeNumbers(t *testing.T) {
	xs := []float64{-1e9, -3.5, -1, -0.01, -1e-300, 0, 1e-300, 0.01, 0.0101, 0.5, 1, 1.02, 3.5, 1e9}
	for i := 1; i < len(xs); i++ {
		if BucketOf(xs[i-1]) > BucketOf(xs[i]) {
			t.Errorf("BucketOf(%v) = %d > BucketOf(%v) = %d", xs[i-1], BucketOf(xs[i-1]), xs[i], BucketOf(xs[i]))
		}
	}
	for _, x := range []float64{0.37, 1, 12345.678, -0.37, -42} {
		k := BucketOf(x)
		lo, next := BucketLower(k), BucketLower(k+1)
		if x >= 0 && (x < lo || x >= next || (next-lo)/lo > 1.0/(1<<MantissaBits)+1e-12) {
			t.Errorf("%v in bucket [%v, %v)", x, lo, next)
		}
	}
}

func TestSketchMergesAndBoundsCategories(t *testing.T) {
	var a, b Sketch
	a.AddNumber(1)
	a.AddNumber(3)
	b.AddNumber(5)
	b.AddNumber(math.NaN())
	a.Merge(b)
	if a.Count != 3 || a.Mean() != 3 || a.Missing != 1 || a.Answers() != 4 {
		t.Fatalf("merged: %+v", a)
	}
	c := Sketch{MaxCategories: 2}
	for _, x := range []string{"a", "b", "c", "d", "a"} {
		c.AddCategory(x)
	}
	if c.Categories["a"] != 2 || c.Categories[Other] != 2 || len(c.Categories) != 3 {
		t.Fatalf("bounded categories: %v", c.Categories)
	}
}

func TestDriftSeesAShiftAndNotNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	same, _ := Compare(normalSketch(rng, 2000, 0), normalSketch(rng, 2000, 0))
	if same.Fails(0.1) || same.Lower > 0.02 || same.Bins != MaxBins {
		t.Errorf("same distribution: %+v", same)
	}
	shifted, _ := Compare(normalSketch(rng, 2000, 1), normalSketch(rng, 2000, 0))
	// binned PSI of a one-SD shift of a normal is near 0.9
	if !shifted.Fails(0.1) || shifted.PSI < 0.6 || shifted.Lower > shifted.PSI {
		t.Errorf("shifted by one SD: %+v", shifted)
	}
	cls, _ := Compare(classSketch(rng, 5000, 0.3), classSketch(rng, 5000, 0.1))
	want := (0.3-0.1)*math.Log(3) + (0.7-0.9)*math.Log(0.7/0.9)
	if math.Abs(cls.PSI-want) > 0.05 || cls.Bins != 2 || !cls.Fails(0.1) {
		t.Errorf("classes 70/30 vs 90/10: %+v, want PSI near %v", cls, want)
	}
	if _, ok := Compare(Sketch{}, normalSketch(rng, 10, 0)); ok {
		t.Error("an empty side compared")
	}
}

func TestDriftSmallWindowsDoNotResolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	small, _ := Compare(normalSketch(rng, 50, 0), normalSketch(rng, 50, 0))
	if small.Resolves(0.1) {
		t.Errorf("50 vs 50 answers resolve PSI 0.1 (null fail rate %v)", small.NullFailRate(0.1))
	}
	big, _ := Compare(normalSketch(rng, 500, 0), normalSketch(rng, 9500, 0))
	if !big.Resolves(0.1) {
		t.Errorf("500 vs 9500 answers do not resolve PSI 0.1 (null fail rate %v)", big.NullFailRate(0.1))
	}
}
