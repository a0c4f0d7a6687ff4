package behaviour

import (
	"math"
	"sort"
)

// DriftConfidence is the one-sided confidence of the PSI's lower bound:
// output_drift fails only when the index is above max with this
// confidence.
const DriftConfidence = 0.9

// MaxNullFailRate is the largest chance that a window would fail a
// healthy version (PSI 0) which output_drift accepts to judge: a smaller
// window cannot tell a PSI of max from noise and gives no data. With a
// rollout of a few dozen measurements it keeps the whole-rollout false
// rollback rate under 1% (bench/RESULTS.md).
const MaxNullFailRate = 1e-4

// DefaultDriftMax and DefaultDriftMaxClasses are output_drift's max when
// the check sets none: numbers binned into 10 quantile bins move the PSI
// much more than a shift of a few classes does. A class mix moving from
// 90/10 to 80/20 (the fraud share doubling) is a PSI of 0.081, under the
// usual 0.1 by definition; 0.03 catches it within 3 intervals of 500
// answers in over 99% of canaries, and still fails a healthy one in
// under 1% of rollouts (bench/RESULTS.md, "behaviour checks").
const (
	DefaultDriftMax        = 0.1
	DefaultDriftMaxClasses = 0.03
)

// MaxBins bounds the bins numbers are grouped into for the PSI; fewer are
// used when a side has fewer than 10 answers a bin.
const MaxBins = 10

// Drift is the population stability index between a version's outputs
// (N answers) and its reference's (M answers, usually the previous
// version in the same window).
//
// PSI = Σ (p_i - q_i) ln(p_i / q_i) over the bins, with counts smoothed by
// one half so that an empty bin is finite. For two samples of the same
// distribution, PSI · n_eff (n_eff = NM/(N+M)) follows a χ² law with
// Bins-1 degrees of freedom, and a noncentral one with parameter PSI_true
// · n_eff otherwise (to second order: the PSI is the symmetric
// Kullback-Leibler divergence, whose plug-in estimate is the two-sample
// χ² statistic divided by n_eff). Lower inverts that law: the smallest
// true PSI under which the observed one is at most its DriftConfidence
// quantile. This analytic bound needs no random numbers and is exact in
// the χ² limit; a percentile bootstrap of the plug-in PSI is not, because
// its replicates carry the same upward bias as the estimate (for two
// samples of 50 in 10 bins, a bias near 0.36) and would fail healthy
// canaries.
type Drift struct {
	PSI   float64 `json:"psi"`
	Lower float64 `json:"lower"`
	Bins  int     `json:"bins"`
	N     uint64  `json:"n"`
	M     uint64  `json:"m"`
	// Classes says both sides answered classes only (no numbers): the
	// default max is then DefaultDriftMaxClasses.
	Classes bool `json:"classes,omitempty"`
}

// DefaultMax is the max a check without one judges this drift by.
func (d Drift) DefaultMax() float64 {
	if d.Classes {
		return DefaultDriftMaxClasses
	}
	return DefaultDriftMax
}

// neff is the effective sample size of the two-sample statistic.
func (d Drift) neff() float64 {
	n, m := float64(d.N), float64(d.M)
	if n+m == 0 {
		return 0
	}
	return n * m / (n + m)
}

// Fails says whether the drift is above max with DriftConfidence.
func (d Drift) Fails(max float64) bool { return d.Lower > max }

// NullFailRate is the chance that a window of this size and binning fails
// max when both versions answer alike (PSI 0).
func (d Drift) NullFailRate(max float64) float64 {
	df := float64(d.Bins - 1)
	if df < 1 {
		return 0
	}
	crit := chi2Quantile(DriftConfidence, df, max*d.neff())
	return 1 - chi2CDF(crit, df, 0)
}

// Resolves says whether the window is large enough to judge max: its
// NullFailRate is at most MaxNullFailRate.
func (d Drift) Resolves(max float64) bool { return d.NullFailRate(max) <= MaxNullFailRate }

// Compare computes the drift of cur from ref. ok is false when either has
// no answers.
func Compare(cur, ref Sketch) (d Drift, ok bool) {
	d.N, d.M = cur.Answers(), ref.Answers()
	if d.N == 0 || d.M == 0 {
		return d, false
	}
	a, b := bins(cur, ref, int(min(d.N, d.M)))
	d.Bins = len(a)
	d.Classes = cur.Count == 0 && ref.Count == 0 && len(cur.Categories)+len(ref.Categories) > 0
	n, m := float64(d.N), float64(d.M)
	k := float64(len(a))
	for i := range a {
		p := (a[i] + 0.5) / (n + 0.5*k)
		q := (b[i] + 0.5) / (m + 0.5*k)
		d.PSI += (p - q) * math.Log(p/q)
	}
	if d.Bins > 1 {
		d.Lower = lambdaLower(d.PSI*d.neff(), k-1, DriftConfidence) / d.neff()
	}
	return d, true
}

// bins lays cur's and ref's counts side by side: numbers grouped at the
// pooled quantiles into up to MaxBins bins (at least 10 answers of the
// smaller side a bin), then each class, then the missing answers.
func bins(cur, ref Sketch, smaller int) (a, b []float64) {
	pooled := Sketch{MaxCategories: math.MaxInt32} // every class of either side
	pooled.Merge(cur)
	pooled.Merge(ref)
	if pooled.Count > 0 {
		k := min(MaxBins, max(2, smaller/10))
		keys := pooled.keys()
		var cum, next uint64
		step := float64(pooled.Count) / float64(k)
		cut := 1
		var ca, cb float64
		for i, key := range keys {
			cum += pooled.Buckets[key]
			ca += float64(cur.Buckets[key])
			cb += float64(ref.Buckets[key])
			next = uint64(math.Ceil(step * float64(cut)))
			if cum >= next || i == len(keys)-1 {
				a, b = append(a, ca), append(b, cb)
				ca, cb = 0, 0
				for cut < k && float64(cum) >= step*float64(cut) {
					cut++
				}
			}
		}
	}
	cats := make([]string, 0, len(pooled.Categories))
	for c := range pooled.Categories {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		a, b = append(a, float64(cur.Categories[c])), append(b, float64(ref.Categories[c]))
	}
	if pooled.Missing > 0 {
		a, b = append(a, float64(cur.Missing)), append(b, float64(ref.Missing))
	}
	return a, b
}
