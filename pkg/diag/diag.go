// Package diag holds the diagnostics every command reports (spec, policy,
// validation findings with their source positions) and renders them as
// Terraform-style text or as the JSON of SPEC.md §3.
package diag

// Severity is "error" or "warning".
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Source says which stage found a problem.
const (
	SourceHCL        = "hcl"
	SourceSchema     = "schema"
	SourcePolicy     = "policy"
	SourceValidation = "validation"
)

// Diagnostic is one problem, with its position in a repo-relative file.
// Line and Column are 1-based; 0 means unknown.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Source   string   `json:"source"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	EndLine  int      `json:"end_line,omitempty"`
	EndCol   int      `json:"end_column,omitempty"`
	Rule     string   `json:"rule,omitempty"`
	// Model is the "model/stage" the diagnostic is about, "" for none;
	// plans file the diagnostic under that model's change.
	Model string `json:"-"`
}

// Report is the JSON object `validate --format json` prints.
type Report struct {
	Valid       bool         `json:"valid"`
	Errors      int          `json:"errors"`
	Warnings    int          `json:"warnings"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}
