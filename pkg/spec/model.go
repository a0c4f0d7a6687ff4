// Package spec reads Switchyard rollout specs (HCL), validates them, and
// turns them into a normalized model, its JSON for policies, and hclwrite
// edits that keep every other line of a file.
package spec

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults applied by the loader where the spec is silent.
const (
	DefaultPath          = "rollouts"
	DefaultStrategy      = "all_at_once"
	DefaultBake          = time.Minute
	DefaultInterval      = 10 * time.Second
	DefaultOnFailure     = "rollback"
	DefaultPreviewHeader = "x-switchyard-preview"
	DefaultKeepPrevious  = 10 * time.Minute
	DefaultMinRequests   = 20
)

// Tree is every router, metrics source and model of one spec directory.
type Tree struct {
	Routers map[string]*Router        `json:"routers"`
	Metrics map[string]*MetricsSource `json:"metrics"`
	// Models sorted by Name, then Stage.
	Models []*Model `json:"models"`
	// Notify are the notify blocks by name.
	Notify map[string]*Notify `json:"notify"`
	// Ranges maps (model key, field path) to the source range it came from.
	Ranges map[FieldKey]hcl.Range `json:"-"`
	// Sources holds each file's bytes by repo-relative path, for diagnostics.
	Sources map[string][]byte `json:"-"`
}

// FieldKey names one field of one model, for mapping findings to lines.
// Model is "name/stage". Field is a dotted path as in the policy JSON:
// "" (the model block), "serve", "router", "path", "rollout",
// "rollout.steps", "rollout.bake", "checks.errors", "checks.errors.max",
// "shadow", "shadow.percent", "experiment", "experiment.variants",
// "versions.v8", "versions.v8.url", "versions.v8.validation.dataset" ...
type FieldKey struct {
	Model string
	Field string
}

// Router is a router block.
type Router struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // builtin | nginx | haproxy
	Listen string `json:"listen,omitempty"`
	// Admin is the first of Admins: the one admin API of a single
	// standalone router.
	Admin string `json:"admin,omitempty"`
	// Admins lists every replica's admin API URL (`admin` as a string
	// gives one): a fleet of standalone builtin routers.
	Admins   []string `json:"admins,omitempty"`
	TokenEnv string   `json:"token_env,omitempty"`
	// FeedbackTokenEnv names the environment variable holding the bearer
	// token that feedback to an in-process builtin router needs.
	FeedbackTokenEnv string `json:"feedback_token_env,omitempty"`
	// TLSCert and TLSKey are the PEM files, on the router's host, of the
	// certificate pair an in-process builtin router serves traffic with
	// over TLS (both or neither).
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// CAFile is a PEM file, on the reconciler's host, of the certificate
	// authorities a standalone builtin router's https:// admin API is
	// checked against instead of the system's.
	CAFile     string `json:"ca_file,omitempty"`
	ConfigFile string `json:"config_file,omitempty"`
	// RuntimeAPI is the first of RuntimeAPIs.
	RuntimeAPI string `json:"runtime_api,omitempty"`
	// RuntimeAPIs lists HAProxy runtime API addresses: several HAProxy
	// instances sharing config_file whose weights change together.
	RuntimeAPIs []string `json:"runtime_apis,omitempty"`
	Command     []string `json:"command,omitempty"`
	File        string   `json:"file"`
}

// MetricsSource is a metrics block. The source "router" always exists
// implicitly and is not listed here.
type MetricsSource struct {
	Name string `json:"name"`
	Type string `json:"type"` // prometheus
	URL  string `json:"url"`
	File string `json:"file"`
}

// Model is one model at one stage.
type Model struct {
	Name     string              `json:"name"`
	Stage    string              `json:"stage"`
	File     string              `json:"file"`
	Router   string              `json:"router"`
	Path     string              `json:"path"`
	Serve    string              `json:"serve"`
	Versions map[string]*Version `json:"versions"`
	// VersionOrder lists the versions in source order.
	VersionOrder []string    `json:"-"`
	Rollout      *Rollout    `json:"rollout,omitempty"` // nil: no rollout block (all_at_once, defaults)
	Checks       []*Check    `json:"-"`                 // in file order; JSON: object by name
	Shadow       *Shadow     `json:"shadow,omitempty"`
	Experiment   *Experiment `json:"experiment,omitempty"`
}

// Key is "name/stage".
func (m *Model) Key() string { return m.Name + "/" + m.Stage }

// Version is one deployable version of a model.
type Version struct {
	Name      string `json:"name"`
	URL       string `json:"url"`
	Heuristic bool   `json:"heuristic"`
	// CAFile is a PEM file, on the router's host, of the certificate
	// authorities an https:// URL's certificate is checked against instead
	// of the system's.
	CAFile     string      `json:"ca_file,omitempty"`
	Validation *Validation `json:"validation,omitempty"`
}

// Validation is an offline validation of a version against a dataset.
type Validation struct {
	Dataset       string   `json:"dataset"`
	URL           string   `json:"url,omitempty"`
	Output        string   `json:"output,omitempty"`
	Metric        string   `json:"metric"` // accuracy | precision | recall | f1 | auc | log_loss | mae | rmse
	Min           *float64 `json:"min,omitempty"`
	Max           *float64 `json:"max,omitempty"`
	MaxLatencyP99 *float64 `json:"max_latency_p99,omitempty"`
	// Positive is the positive class of precision, recall, f1, auc and
	// log_loss, as text: an expected value or output is positive when its
	// text form (a string as is, a number as written, true or false)
	// equals it. Default "1".
	Positive string `json:"positive,omitempty"`
	// Baseline "serve" also runs the version serving now on the same rows;
	// MaxRegression fails the candidate when its metric is worse than the
	// baseline's by more than this.
	Baseline      string   `json:"baseline,omitempty"`
	MaxRegression *float64 `json:"max_regression,omitempty"`
}

// Rollout says how a change of serve is carried out. Durations appear in
// the policy JSON as "<name>_seconds" numbers beside the written string.
type Rollout struct {
	Strategy      string        `json:"strategy"` // all_at_once | canary | blue_green
	Steps         []float64     `json:"steps"`
	Bake          time.Duration `json:"-"`
	Interval      time.Duration `json:"-"`
	FailureLimit  int           `json:"failure_limit"`
	OnFailure     string        `json:"on_failure"` // rollback | fallback | roll_through
	Fallback      string        `json:"fallback,omitempty"`
	RollThrough   string        `json:"roll_through,omitempty"`
	PreviewHeader string        `json:"preview_header,omitempty"`
	// PreviewMirror is the percent of live requests copied to the new
	// version during a blue_green preview (its answers never reach
	// clients); the copies count as its requests for the checks.
	PreviewMirror float64       `json:"preview_mirror,omitempty"`
	KeepPrevious  time.Duration `json:"-"`
}

// Check is a measurement that must hold during a rollout.
type Check struct {
	Name        string   `json:"name"`
	Metric      string   `json:"metric,omitempty"` // a router metric, or a behaviour metric (BehaviourMetrics)
	Source      string   `json:"source"`           // "router" or a metrics block
	Query       string   `json:"query,omitempty"`
	Output      string   `json:"output,omitempty"` // behaviour metrics: JSON pointer into each answer
	Max         *float64 `json:"max,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	MaxRatio    *float64 `json:"max_ratio,omitempty"`
	MinRatio    *float64 `json:"min_ratio,omitempty"`
	MinRequests int      `json:"min_requests"`
}

// Shadow runs a version beside the live one and compares answers.
type Shadow struct {
	Version      string  `json:"version"`
	Percent      float64 `json:"percent"`
	Compare      string  `json:"compare"` // exact | json
	Tolerance    float64 `json:"tolerance"`
	MinAgreement float64 `json:"min_agreement"`
	MinSamples   int     `json:"min_samples"`
}

// Experiment is an A/B test or a multi-armed bandit.
type Experiment struct {
	Method       string             `json:"method"` // ab | bandit
	Variants     map[string]float64 `json:"variants"`
	VariantOrder []string           `json:"-"`                // variants in source order
	Sticky       string             `json:"sticky,omitempty"` // header:NAME | cookie:NAME
	Reward       string             `json:"reward"`           // feedback | a metrics block name
	Query        string             `json:"query,omitempty"`
	Alpha        float64            `json:"alpha"`
	MinSamples   int                `json:"min_samples"`
	AutoPromote  bool               `json:"auto_promote"`
	ExploreFloor float64            `json:"explore_floor"`
	PromoteWhen  float64            `json:"promote_when"`
}
