package reconcile

import (
	"time"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Status is what `GET /api/status` answers and `reconciler status` shows.
type Status struct {
	// Head is the newest commit fetched; Applied the one being carried out.
	// They differ when the head failed validation or policy.
	Head    string `json:"head"`
	Applied string `json:"applied"`
	// HeadError says why Head is not applied, with its diagnostics.
	HeadError       string            `json:"head_error,omitempty"`
	HeadDiagnostics []diag.Diagnostic `json:"head_diagnostics,omitempty"`
	// HeadNotes is, while Head is rejected, the commit of
	// refs/notes/switchyard it was last judged with: a fetch that finds
	// the notes ref elsewhere judges Head again.
	HeadNotes  string    `json:"head_notes,omitempty"`
	LastFetch  time.Time `json:"last_fetch"`
	FetchError string    `json:"fetch_error,omitempty"`
	// OwnCommitRejected is set while Head is one of the reconciler's own
	// outcome commits and is rejected (a bug: see OwnRejection).
	OwnCommitRejected *OwnRejection `json:"own_commit_rejected,omitempty"`
	// PendingCommits are outcomes whose commit has not reached the remote
	// yet; traffic is already restored for each of them.
	PendingCommits []PendingCommit `json:"pending_commits,omitempty"`
	Models         []ModelStatus   `json:"models"`
	// Events are the recent events, newest first: rollouts started,
	// paused and succeeded, outcomes with the commit written, rejected
	// heads (the last RecentEvents, since the reconciler started).
	Events []notify.Event `json:"events"`
	Now    time.Time      `json:"now"`
	// Fleets lists, per router fleet, every replica's table generation,
	// last contact and last error.
	Fleets map[string][]traffic.ReplicaStatus `json:"fleets,omitempty"`
	// With several reconciler replicas (etcd): this replica's ID, the
	// leader's, and this replica's role, "leader" or "standby".
	ID     string `json:"id,omitempty"`
	Leader string `json:"leader,omitempty"`
	Role   string `json:"role,omitempty"`
}

// ModelStatus is one model's rollout as status shows it.
type ModelStatus struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	Serve string `json:"serve"` // what Git says should serve
	Phase string `json:"phase"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	// Strategy, step (1-based) of Steps, and progress in 0..1.
	Strategy string           `json:"strategy,omitempty"`
	Step     int              `json:"step,omitempty"`
	Steps    int              `json:"steps,omitempty"`
	Progress float64          `json:"progress"`
	Weights  []traffic.Weight `json:"weights"`
	Router   string           `json:"router"`
	Held     bool             `json:"held,omitempty"`
	Message  string           `json:"message,omitempty"`
	// Measurements are the last value of each check.
	Measurements []Measurement `json:"measurements,omitempty"`
	Verdicts     []string      `json:"verdicts,omitempty"`
	LastCommit   string        `json:"last_commit,omitempty"`
	Error        string        `json:"error,omitempty"`
	// Shadow and Experiment are shown while one runs or has a verdict.
	Shadow     *ShadowStatus     `json:"shadow,omitempty"`
	Experiment *ExperimentStatus `json:"experiment,omitempty"`
}

// ShadowStatus is a shadow assessment's progress.
type ShadowStatus struct {
	Version   string  `json:"version"`
	Pairs     int64   `json:"pairs"`
	Agreement float64 `json:"agreement"`
	Lower     float64 `json:"lower,omitempty"`
	Upper     float64 `json:"upper,omitempty"`
	Errors    int64   `json:"errors"`
	Decided   bool    `json:"decided"`
	Passed    bool    `json:"passed"`
}

// ExperimentStatus is an A/B test's or bandit's progress.
type ExperimentStatus struct {
	Method  string      `json:"method"`
	Arms    []ArmStatus `json:"arms"`
	PValue  float64     `json:"p_value,omitempty"`
	Decided bool        `json:"decided"`
	Winner  string      `json:"winner,omitempty"`
}

// ArmStatus is one variant of an experiment.
type ArmStatus struct {
	Version  string  `json:"version"`
	Weight   float64 `json:"weight"`
	Samples  int64   `json:"samples"`
	Mean     float64 `json:"mean"`
	ProbBest float64 `json:"prob_best,omitempty"`
}

// Rollout is "from→to" while a rollout runs, "" otherwise.
func (m ModelStatus) Rollout() string {
	if m.From == "" || m.To == "" || m.From == m.To {
		return ""
	}
	return m.From + "→" + m.To
}

// Measurement is one check's last value.
type Measurement struct {
	Check    string  `json:"check"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline,omitempty"`
	Verdict  string  `json:"verdict"`
	Reason   string  `json:"reason,omitempty"`
	Requests int64   `json:"requests"`
	// Metric (or query), thresholds and the last CheckPoints
	// measurements of the check, oldest first, for charts.
	Metric   string   `json:"metric,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	MaxRatio *float64 `json:"max_ratio,omitempty"`
	MinRatio *float64 `json:"min_ratio,omitempty"`
	History  []Point  `json:"history,omitempty"`
}

// PendingCommit is an outcome waiting to be pushed.
type PendingCommit struct {
	Model    string    `json:"model"`
	Action   string    `json:"action"`
	Attempts int       `json:"attempts"`
	LastErr  string    `json:"last_error"`
	NextTry  time.Time `json:"next_try"`
}
