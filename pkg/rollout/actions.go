package rollout

import "github.com/switchyard-dev/switchyard/pkg/behaviour"

// Action is something the daemon must do after applying the traffic a
// Step returned: write a commit, record a verdict note, emit an event.
// Traffic always comes first (DESIGN.md, invariant 2).
type Action interface {
	action() // sealed: WriteCommit, RecordVerdict, Event
}

// CommitKind is the Switchyard-Action trailer of a commit (SPEC.md §6).
type CommitKind string

// Commit kinds.
const (
	CommitRollback    CommitKind = "rollback"
	CommitFallback    CommitKind = "fallback"
	CommitRollThrough CommitKind = "roll_through"
	CommitPromote     CommitKind = "promote"
	CommitConclude    CommitKind = "conclude"
)

// WriteCommit asks the daemon to write a commit to Git so that Git says
// what is live: the outcome the daemon queues and hands to its Repo.
type WriteCommit struct {
	Kind  CommitKind `json:"kind"`
	Model string     `json:"model"`
	Stage string     `json:"stage"`
	// File is the repo-relative spec file holding the model block (empty
	// in a state saved before it was recorded: the daemon fills it in).
	File string `json:"file,omitempty"`
	// From is the serve value the spec holds; To the one the commit
	// writes (equal for conclude).
	From string `json:"from"`
	To   string `json:"to"`
	// Reason is the measured, human explanation for the commit body.
	Reason string `json:"reason"`
	// RevertsServeOf (rollback only) is the version whose promotion is
	// reverted: revert the commit that set serve to it.
	RevertsServeOf string `json:"reverts_serve_of,omitempty"`
	// RevertsCommit (rollback only) is the commit to revert, when the
	// writer already knows it (the GitHub Action's rollback). Empty: the
	// repo finds the commit that last set serve to From.
	RevertsCommit string `json:"reverts_commit,omitempty"`
	// Commit is the spec revision under judgement (the one that asked for
	// the rollout or added the experiment).
	Commit string `json:"commit,omitempty"`
	// RemoveExperiment: the commit also removes the experiment block.
	RemoveExperiment bool `json:"remove_experiment,omitempty"`
	// Facts are the measured values behind Reason. Nothing writes them to
	// Git yet: the commit message carries Reason.
	Facts map[string]string `json:"facts,omitempty"`
}

// VerdictKind says what a verdict judged.
type VerdictKind string

// Verdict kinds.
const (
	VerdictRollout    VerdictKind = "rollout"
	VerdictShadow     VerdictKind = "shadow"
	VerdictExperiment VerdictKind = "experiment"
)

// RecordVerdict asks the daemon to attach a JSON note under
// refs/notes/switchyard to Commit.
type RecordVerdict struct {
	Kind   VerdictKind `json:"kind"`
	Model  string      `json:"model"`
	Stage  string      `json:"stage"`
	Commit string      `json:"commit,omitempty"`
	// Payload is a RolloutVerdict, ShadowVerdict or ExperimentVerdict.
	Payload any `json:"payload"`
}

// RolloutVerdict is the outcome of a rollout.
type RolloutVerdict struct {
	Version  string                 `json:"version"`
	From     string                 `json:"from"`
	Strategy string                 `json:"strategy"`
	Outcome  string                 `json:"outcome"` // succeeded | rolled_back | fell_back | rolled_through | aborted | superseded
	Reason   string                 `json:"reason,omitempty"`
	Checks   map[string]CheckRecord `json:"checks,omitempty"`
	Failures map[string]int         `json:"failures,omitempty"`
	Measured map[string]int         `json:"measured,omitempty"`
}

// ShadowVerdict is a shadow assessment's result (the evidence policies
// read as evidence["name/stage/version"].shadow).
type ShadowVerdict struct {
	Version      string  `json:"version"`
	Passed       bool    `json:"passed"`
	Agreement    float64 `json:"agreement"`
	Lower        float64 `json:"lower"`
	Upper        float64 `json:"upper"`
	Samples      int64   `json:"samples"`
	MinAgreement float64 `json:"min_agreement"`
	Errors       int64   `json:"errors"`
	// Drift is, by output pointer of the model's checks, the distance
	// between the shadow's outputs and the live version's over the
	// assessment (reported beside the agreement; it does not decide).
	Drift map[string]behaviour.Drift `json:"drift,omitempty"`
}

// ExperimentVerdict is an experiment's result.
type ExperimentVerdict struct {
	Method   string              `json:"method"`
	Outcome  string              `json:"outcome"` // winner | no_difference | ended
	Winner   string              `json:"winner,omitempty"`
	Reason   string              `json:"reason"`
	PValue   float64             `json:"p_value,omitempty"`
	ProbBest map[string]float64  `json:"prob_best,omitempty"`
	Arms     map[string]ArmStats `json:"arms"`
	Promoted bool                `json:"promoted"`
}

// Event levels.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Event is a message for the log and the status page.
type Event struct {
	Level   string `json:"level"`
	Model   string `json:"model"` // "name/stage"
	Message string `json:"message"`
}

// Key is "model/stage".
func (w WriteCommit) Key() string { return w.Model + "/" + w.Stage }

func (WriteCommit) action()   {}
func (RecordVerdict) action() {}
func (Event) action()         {}
