package rollout

import (
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

// Phase is where a model stands, as shown by status.
type Phase string

// Phases. A model is in exactly one of them after every Step.
const (
	PhaseIdle          Phase = "idle"          // serving its stable version, nothing in progress
	PhaseProgressing   Phase = "progressing"   // canary: a step below 100% is baking
	PhaseBaking        Phase = "baking"        // 100% on the new version, final bake with checks
	PhasePreview       Phase = "preview"       // blue_green: new version reached by the preview header only
	PhaseSwitched      Phase = "switched"      // blue_green: switched, post-switch bake with checks
	PhasePaused        Phase = "paused"        // a bake ended without data for some check, or the router has not had the step's traffic everywhere for long: not promoting blind
	PhaseSucceeded     Phase = "succeeded"     // the last rollout completed
	PhaseFailedHeld    Phase = "failed-held"   // on_failure carried out; waiting for Git to agree
	PhaseHeld          Phase = "held"          // an experiment's winner promoted; waiting for Git to agree
	PhaseAssessing     Phase = "assessing"     // a shadow is being compared, no verdict yet
	PhaseExperimenting Phase = "experimenting" // an A/B test or bandit is running
)

// State is the engine's whole state: one ModelState per model key
// ("name/stage"). It is plain data and survives a JSON round-trip.
type State struct {
	Models map[string]ModelState `json:"models"`
}

// ModelState is the engine's memory of one model at one stage.
type ModelState struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	Phase Phase  `json:"phase"`
	// Stable is the last version known good: it holds live traffic
	// whenever nothing is in progress, and is the version a failed
	// rollout returns to.
	Stable string `json:"stable"`
	// Revision is the last spec commit seen.
	Revision string `json:"revision,omitempty"`
	// Interval is the measurement interval in force (from the spec).
	Interval time.Duration `json:"interval"`
	// MeasuredAt is the end of the last measurement window consumed. The
	// daemon measures the window [MeasuredAt, now] for the next Step.
	MeasuredAt time.Time `json:"measured_at"`
	// Message is a one-line human summary of the latest decision.
	Message string `json:"message,omitempty"`

	// Awaiting is the commit the engine asked for that Git does not say
	// yet. It is cleared once Git agrees or moves on (see Step). A daemon
	// that lost its queue (a restart) re-queues it from here.
	Awaiting *WriteCommit `json:"awaiting,omitempty"`

	Rollout    *RolloutState    `json:"rollout,omitempty"`
	Held       *Hold            `json:"held,omitempty"`
	Keep       *Keep            `json:"keep,omitempty"`
	Shadow     *ShadowState     `json:"shadow,omitempty"`
	Experiment *ExperimentState `json:"experiment,omitempty"`

	// Last is each check's latest measurement and verdict.
	Last map[string]CheckRecord `json:"last,omitempty"`
	// URLs remembers the URL of every version the engine routes to, so
	// that a version removed from the spec while still live keeps its
	// backend until traffic has left it.
	URLs map[string]string `json:"urls,omitempty"`

	// Seed and Draws make the bandit's Monte Carlo reproducible: each
	// draw uses Seed mixed with the draw counter.
	Seed  uint64 `json:"seed"`
	Draws uint64 `json:"draws"`
}

// Plan is the rollout block in force when a rollout started, with its
// defaults filled in. Later edits to the block do not change a rollout
// in progress.
type Plan struct {
	Strategy      string        `json:"strategy"`
	Steps         []float64     `json:"steps"` // percent on the new version per stage; blue_green: [0 (preview), 100]
	Bake          time.Duration `json:"bake"`
	Interval      time.Duration `json:"interval"`
	FailureLimit  int           `json:"failure_limit"`
	OnFailure     string        `json:"on_failure"`
	Fallback      string        `json:"fallback,omitempty"`
	RollThrough   string        `json:"roll_through,omitempty"`
	PreviewHeader string        `json:"preview_header,omitempty"`
	PreviewMirror float64       `json:"preview_mirror,omitempty"` // blue_green: percent of live requests copied to To during the preview
	KeepPrevious  time.Duration `json:"keep_previous,omitempty"`
}

// RolloutState is a rollout in progress from From to To.
type RolloutState struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Commit is the spec revision that asked for To (the one judged).
	Commit        string    `json:"commit,omitempty"`
	Plan          Plan      `json:"plan"`
	Step          int       `json:"step"` // index into Plan.Steps
	StartedAt     time.Time `json:"started_at"`
	StepStartedAt time.Time `json:"step_started_at"`
	SwitchedAt    time.Time `json:"switched_at,omitempty"` // blue_green
	Paused        bool      `json:"paused,omitempty"`
	// Unapplied is set while the router has not acknowledged the current
	// step's traffic everywhere (Observations.Unapplied): its bake waits.
	// UnappliedSince is when that hold began; UnappliedLong is set once it
	// has lasted past the patience (see awaitTraffic): the phase is then
	// paused.
	Unapplied      bool      `json:"unapplied,omitempty"`
	UnappliedSince time.Time `json:"unapplied_since,omitzero"`
	UnappliedLong  bool      `json:"unapplied_long,omitempty"`
	// Failures and Measured count, per check, the failed measurements and
	// the measurements with data over the whole rollout.
	Failures map[string]int `json:"failures,omitempty"`
	Measured map[string]int `json:"measured,omitempty"`
	// Seen marks the checks that had data during the current step's bake.
	Seen map[string]bool `json:"seen,omitempty"`
}

// Hold keeps a model on the traffic the engine restored (or promoted)
// until Git agrees: the spec's serve equals Expect (our commit landed),
// or differs from Bad (a human wrote a new intent).
type Hold struct {
	Kind     string    `json:"kind"`     // rollback | fallback | roll_through | promote
	Restored string    `json:"restored"` // the version holding 100% of traffic
	Bad      string    `json:"bad"`      // the serve value that keeps the hold
	Expect   string    `json:"expect"`   // the serve value our commit writes
	Since    time.Time `json:"since"`
}

// Keep is blue_green's previous version, kept at weight 0 for an instant
// switch back until Until.
type Keep struct {
	Version string    `json:"version"`
	Until   time.Time `json:"until"`
}

// CheckRecord is one check's latest measurement.
type CheckRecord struct {
	Version  string    `json:"version"`
	Value    float64   `json:"value"`
	Baseline float64   `json:"baseline,omitempty"`
	Requests int64     `json:"requests"`
	Verdict  string    `json:"verdict"` // pass | fail | no_data
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// ShadowState is a shadow assessment.
type ShadowState struct {
	Version     string    `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Commit      string    `json:"commit,omitempty"` // the revision that added the shadow block
	StartedAt   time.Time `json:"started_at"`
	MinSamples  int       `json:"min_samples"`
	Pairs       int64     `json:"pairs"`
	Agreements  int64     `json:"agreements"`
	Errors      int64     `json:"errors"`
	Decided     bool      `json:"decided"`
	Passed      bool      `json:"passed"`
	Lower       float64   `json:"lower,omitempty"`
	Upper       float64   `json:"upper,omitempty"`
	// Outputs and LiveOutputs sum the shadow's and the live version's
	// output sketches over the assessment, by pointer (router checks'
	// outputs), for the drift reported with the verdict.
	Outputs     map[string]behaviour.Sketch `json:"outputs,omitempty"`
	LiveOutputs map[string]behaviour.Sketch `json:"live_outputs,omitempty"`
}

// ArmStats is one experiment variant's accumulated rewards.
type ArmStats struct {
	N     int64   `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
}

// ExperimentState is an A/B test or a bandit.
type ExperimentState struct {
	Method      string              `json:"method"`
	Fingerprint string              `json:"fingerprint"`
	Commit      string              `json:"commit,omitempty"` // the revision that added the experiment block
	StartedAt   time.Time           `json:"started_at"`
	Arms        []string            `json:"arms"` // in spec order
	Stats       map[string]ArmStats `json:"stats"`
	Weights     []float64           `json:"weights"` // live split, same order as Arms
	ProbBest    []float64           `json:"prob_best,omitempty"`
	PValue      float64             `json:"p_value,omitempty"`  // smallest over the comparisons
	PValues     map[string]float64  `json:"p_values,omitempty"` // ab: running always-valid p-value per treatment
	// Decided: a winner was found (or no difference concluded) and the
	// verdict recorded. Done: the experiment no longer drives traffic.
	Decided bool   `json:"decided"`
	Done    bool   `json:"done"`
	Winner  string `json:"winner,omitempty"`
}

// Measuring names the version the daemon should measure checks for and
// its baseline (the version it is compared with), during a rollout.
func (s ModelState) Measuring() (version, baseline string, ok bool) {
	if s.Rollout == nil {
		return "", "", false
	}
	return s.Rollout.To, s.Rollout.From, true
}

// Mirrored is the version that live requests are copied to for the
// checks, a blue_green rollout's new version during a preview with
// preview_mirror: its checks count those copies as its requests.
func (s ModelState) Mirrored() (version string, ok bool) {
	r := s.Rollout
	if r == nil || r.Plan.Strategy != BlueGreen || r.Step != 0 || r.Plan.PreviewMirror <= 0 {
		return "", false
	}
	return r.To, true
}

// NextWake is when this model next needs a Step: the next measurement,
// the end of a bake, or the end of keep_previous. Zero: nothing scheduled
// (the daemon's poll interval applies).
func (s ModelState) NextWake() time.Time {
	var t time.Time
	earliest := func(c time.Time) {
		if !c.IsZero() && (t.IsZero() || c.Before(t)) {
			t = c
		}
	}
	measuring := s.Rollout != nil || s.Shadow != nil || (s.Experiment != nil && !s.Experiment.Done)
	if measuring {
		earliest(s.MeasuredAt.Add(s.Interval))
	}
	if r := s.Rollout; r != nil && !r.Paused {
		earliest(r.StepStartedAt.Add(r.Plan.Bake))
	}
	if s.Keep != nil {
		earliest(s.Keep.Until)
	}
	return t
}

// NextWake is the earliest NextWake over every model; zero when none.
func NextWake(st State) time.Time {
	var t time.Time
	for _, m := range st.Models {
		w := m.NextWake()
		if !w.IsZero() && (t.IsZero() || w.Before(t)) {
			t = w
		}
	}
	return t
}

// clone deep-copies s so that Step never mutates its input.
func (s ModelState) clone() ModelState {
	c := s
	c.Last = cloneMap(s.Last)
	c.URLs = cloneMap(s.URLs)
	if s.Rollout != nil {
		r := *s.Rollout
		r.Plan.Steps = append([]float64(nil), s.Rollout.Plan.Steps...)
		r.Failures = cloneMap(s.Rollout.Failures)
		r.Measured = cloneMap(s.Rollout.Measured)
		r.Seen = cloneMap(s.Rollout.Seen)
		c.Rollout = &r
	}
	if s.Held != nil {
		h := *s.Held
		c.Held = &h
	}
	if s.Awaiting != nil {
		a := *s.Awaiting
		a.Facts = cloneMap(s.Awaiting.Facts)
		c.Awaiting = &a
	}
	if s.Keep != nil {
		k := *s.Keep
		c.Keep = &k
	}
	if s.Shadow != nil {
		sh := *s.Shadow
		sh.Outputs, sh.LiveOutputs = cloneMap(s.Shadow.Outputs), cloneMap(s.Shadow.LiveOutputs)
		c.Shadow = &sh
	}
	if s.Experiment != nil {
		e := *s.Experiment
		e.Arms = append([]string(nil), s.Experiment.Arms...)
		e.Weights = append([]float64(nil), s.Experiment.Weights...)
		e.ProbBest = append([]float64(nil), s.Experiment.ProbBest...)
		e.Stats = cloneMap(s.Experiment.Stats)
		e.PValues = cloneMap(s.Experiment.PValues)
		c.Experiment = &e
	}
	return c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
