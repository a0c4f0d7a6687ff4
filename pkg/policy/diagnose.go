package policy

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// Locator finds where a model's field was written. *spec.Tree satisfies
// it. Model is "name/stage"; field is a dotted path of the policy JSON
// ("rollout.steps"), or "" for the model block itself.
type Locator interface {
	FieldRange(model, field string) (hcl.Range, bool)
}

// Diagnostics turns findings into diagnostics. A finding that names a
// model and a field is reported at that field (or, when the field was not
// written, at the nearest enclosing one); one naming only a model at the
// model block; others without a position. loc may be nil.
func Diagnostics(findings []Finding, loc Locator) []diag.Diagnostic {
	out := make([]diag.Diagnostic, 0, len(findings))
	for _, f := range findings {
		d := diag.Diagnostic{
			Severity: f.Severity,
			Source:   diag.SourcePolicy,
			Summary:  f.Msg,
			Detail:   detail(f),
			Rule:     f.RuleName(),
			Model:    f.Key(),
		}
		if r, ok := locate(loc, f); ok {
			d.File = r.Filename
			d.Line, d.Column = r.Start.Line, r.Start.Column
			d.EndLine, d.EndCol = r.End.Line, r.End.Column
		}
		out = append(out, d)
	}
	return out
}

func detail(f Finding) string {
	verb := "denies"
	if f.Severity == diag.Warning {
		verb = "warns about"
	}
	subject := "this spec"
	if k := f.Key(); k != "" {
		subject = "model " + k
		if f.Field != "" {
			subject += " (" + f.Field + ")"
		}
	}
	if f.Rule != "" {
		return fmt.Sprintf("Policy rule %q in %s %s %s.", f.Rule, f.File, verb, subject)
	}
	return fmt.Sprintf("Policy %s %s %s.", f.File, verb, subject)
}

func locate(loc Locator, f Finding) (hcl.Range, bool) {
	if loc == nil || f.Key() == "" {
		return hcl.Range{}, false
	}
	field := f.Field
	for {
		if r, ok := loc.FieldRange(f.Key(), field); ok {
			return r, true
		}
		if field == "" {
			return hcl.Range{}, false
		}
		if i := strings.LastIndexByte(field, '.'); i >= 0 {
			field = field[:i]
		} else {
			field = ""
		}
	}
}
