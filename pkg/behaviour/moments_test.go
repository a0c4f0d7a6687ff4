package behaviour

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The moments behind each label metric give its value, and their
// variance that of one answer's quantity; merging windows is exact.
func TestQualityMoments(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	var q, a, b Quality
	var abs, sq, quad, ll, ll2 []float64
	for i := range 400 {
		y := float64(rng.IntN(2))
		p := rng.Float64()
		d := p - y
		loss := -math.Log(1 - p)
		if y == 1 {
			loss = -math.Log(p)
		}
		abs, sq, quad = append(abs, math.Abs(d)), append(sq, d*d), append(quad, d*d*d*d)
		ll, ll2 = append(ll, loss), append(ll2, loss*loss)
		q.Add(OutputOf(p), y)
		if i%2 == 0 {
			a.Add(OutputOf(p), y)
		} else {
			b.Add(OutputOf(p), y)
		}
	}
	a.Merge(b)
	close := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	if a.Labelled != q.Labelled || a.Numeric != q.Numeric || a.Probabilities != q.Probabilities ||
		!close(a.AbsErr, q.AbsErr) || !close(a.SqErr, q.SqErr) || !close(a.QuadErr, q.QuadErr) ||
		!close(a.LogLoss, q.LogLoss) || !close(a.LogLossSq, q.LogLossSq) {
		t.Fatalf("merged halves %+v != whole %+v", a, q)
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	for _, tc := range []struct {
		metric      string
		mean, mean2 float64
	}{
		{"mae", mean(abs), mean(sq)},
		{"rmse", mean(sq), mean(quad)},
		{"log_loss", mean(ll), mean(ll2)},
	} {
		mo := q.Moments(tc.metric)
		if mo.N != 400 || math.Abs(mo.Mean()-tc.mean) > 1e-9 || math.Abs(mo.Var()-(tc.mean2-tc.mean*tc.mean)) > 1e-9 {
			t.Errorf("%s moments %+v: mean %v var %v, want %v and %v", tc.metric, mo, mo.Mean(), mo.Var(), tc.mean, tc.mean2-tc.mean*tc.mean)
		}
	}
	if v, _ := q.Metric("rmse"); math.Abs(v-math.Sqrt(q.Moments("rmse").Mean())) > 1e-12 {
		t.Errorf("rmse %v is not the root of its moments' mean", v)
	}
	var c Quality
	c.Add(OutputOf("fraud"), "fraud")
	c.Add(OutputOf("ok"), "fraud")
	c.Add(OutputOf("ok"), "ok")
	if mo := c.Moments("accuracy"); mo.N != 3 || mo.Sum != 2 || math.Abs(mo.Var()-2.0/9) > 1e-12 {
		t.Errorf("accuracy moments %+v var %v, want 2 of 3, var 2/9", mo, mo.Var())
	}
	if mo := (Quality{}).Moments("accuracy"); mo.N != 0 || !math.IsNaN(mo.Mean()) || !math.IsNaN(mo.Var()) {
		t.Errorf("empty moments %+v", mo)
	}
	if mo := q.Moments("precision"); mo.N != 0 {
		t.Errorf("unknown metric has moments %+v", mo)
	}
}

// A sketch's moments are its numeric outputs'; Drift knows classes.
func TestSketchMomentsAndDriftKind(t *testing.T) {
	var s Sketch
	for _, x := range []float64{1, 2, 3, 4} {
		s.AddNumber(x)
	}
	s.AddCategory("x") // not a number: not in the moments
	if mo := s.Moments(); mo.N != 4 || mo.Mean() != 2.5 || mo.Var() != 1.25 {
		t.Errorf("moments %+v", mo)
	}
	rng := rand.New(rand.NewPCG(33, 34))
	d, _ := Compare(classSketch(rng, 500, 0.2), classSketch(rng, 500, 0.1))
	if !d.Classes || d.DefaultMax() != DefaultDriftMaxClasses {
		t.Errorf("classes: %+v default max %v", d, d.DefaultMax())
	}
	d, _ = Compare(normalSketch(rng, 500, 0), normalSketch(rng, 500, 0))
	if d.Classes || d.DefaultMax() != DefaultDriftMax {
		t.Errorf("numbers: %+v default max %v", d, d.DefaultMax())
	}
}
