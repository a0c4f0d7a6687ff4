package action

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/offline"
	"github.com/switchyard-dev/switchyard/pkg/plan"
)

// Report is what the action found on a pull request; it renders as the
// sticky comment and the job summary.
type Report struct {
	BaseSHA      string
	HeadSHA      string
	SpecDir      string
	PolicyDir    string
	PolicyFiles  []string // loaded from the base commit
	NoPolicies   bool     // the base commit has no policy directory
	PoliciesSkip string   // why policies were not evaluated, if they were not
	RunURL       string   // the workflow run, linked at the end (optional)
	Plan         *plan.Plan
	// Evidence per change key ("model/stage").
	Evidence map[string]*Evidence
	// Notes says (Markdown) what became of the verdict notes, "" when
	// none were to be written.
	Notes string
}

// Evidence is what the action learnt about one change's versions.
type Evidence struct {
	// Validations are the offline validations run, by version.
	Validations map[string]*ValidationOutcome
	// Shadow is the latest shadow assessment by version, from Git notes.
	Shadow map[string]map[string]any
}

// ValidationOutcome is a version's offline validation: a result, or why
// it could not run.
type ValidationOutcome struct {
	Result *offline.Result
	Err    string
}

// Passed reports whether the validation ran and passed.
func (o *ValidationOutcome) Passed() bool { return o.Err == "" && o.Result != nil && o.Result.Passed }

func (r *Report) evidence(key string) *Evidence {
	if e := r.Evidence[key]; e != nil {
		return e
	}
	return &Evidence{}
}

// Diagnostics is every problem of the report: spec problems, policy
// findings and failed validations.
func (r *Report) Diagnostics() []diag.Diagnostic {
	out := append([]diag.Diagnostic{}, r.Plan.Diagnostics...)
	for _, c := range r.Plan.Changes {
		out = append(out, c.Findings...)
	}
	diag.Sort(out)
	return out
}

// Headline is the one-line verdict.
func (r *Report) Headline() string {
	errs, warns := r.Plan.Errors, r.Plan.Warnings
	switch {
	case errs > 0:
		return fmt.Sprintf("❌ Switchyard: this change is blocked (%s, %s)", plural(errs, "error"), plural(warns, "warning"))
	case warns > 0:
		return fmt.Sprintf("⚠️ Switchyard: this change may merge, with %s", plural(warns, "warning"))
	case len(r.Plan.Changes) == 0:
		return "✅ Switchyard: no model changes"
	}
	return "✅ Switchyard: this change may merge"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", r.Headline())
	add, change, remove := r.Plan.Counts()
	fmt.Fprintf(&b, "Base `%s` → head `%s` · %d added, %d changed, %d removed · ", commitid.Short(r.BaseSHA), commitid.Short(r.HeadSHA), add, change, remove)
	switch {
	case r.PoliciesSkip != "":
		fmt.Fprintf(&b, "policies not evaluated: %s", r.PoliciesSkip)
	case r.NoPolicies:
		fmt.Fprintf(&b, "no `%s/` at the base commit, so no policies apply", r.PolicyDir)
	default:
		fmt.Fprintf(&b, "%s from the base commit (never from this change)", plural(len(r.PolicyFiles), "policy file"))
	}
	b.WriteString("\n\n")

	if len(r.Plan.Diagnostics) > 0 {
		b.WriteString("### Problems\n\n")
		for _, d := range r.Plan.Diagnostics {
			b.WriteString("- " + diagLine(d) + "\n")
		}
		b.WriteString("\n")
	}
	if len(r.Plan.Changes) == 0 {
		b.WriteString("Merging changes no model.\n")
		r.footer(&b)
		return b.String()
	}
	b.WriteString("| model | change | rollout | offline validation | shadow | policy |\n|---|---|---|---|---|---|\n")
	for _, c := range r.Plan.Changes {
		e := r.evidence(c.Key())
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", c.Key(), changeCell(c), cell(rolloutCell(c)),
			validationCell(e), shadowCell(e), policyCell(c.Findings))
	}
	b.WriteString("\n")
	for _, c := range r.Plan.Changes {
		r.writeChange(&b, c)
	}
	r.footer(&b)
	return b.String()
}

func (r *Report) footer(b *strings.Builder) {
	if r.Notes != "" {
		if !strings.HasSuffix(b.String(), "\n\n") {
			b.WriteString("\n")
		}
		b.WriteString(r.Notes)
	}
	if r.RunURL != "" {
		fmt.Fprintf(b, "\n<sub>Judged by [this workflow run](%s).</sub>\n", r.RunURL)
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func changeCell(c plan.Change) string {
	switch {
	case c.Kind == plan.Add:
		return fmt.Sprintf("new, serves `%s`", c.To)
	case c.Kind == plan.Remove:
		return fmt.Sprintf("removed (served `%s`)", c.From)
	case c.From != c.To:
		return fmt.Sprintf("`%s` → `%s`", c.From, c.To)
	}
	return fmt.Sprintf("`%s`, %s changed", c.To, strings.Join(c.Changed, ", "))
}

func rolloutCell(c plan.Change) string {
	if c.Kind == plan.Remove {
		return "—"
	}
	switch c.Strategy {
	case "canary":
		steps := make([]string, 0, len(c.Steps)+1)
		for _, s := range c.Steps {
			steps = append(steps, num(s)+"%")
		}
		return fmt.Sprintf("canary %s, bake %s", strings.Join(append(steps, "100%"), " → "), c.Bake)
	}
	return fmt.Sprintf("%s, bake %s", c.Strategy, c.Bake)
}

func (r *Report) writeChange(b *strings.Builder, c plan.Change) {
	e := r.evidence(c.Key())
	fmt.Fprintf(b, "### `%s`: %s\n\n", c.Key(), changeCell(c))
	fmt.Fprintf(b, "- **File:** `%s`\n", c.File)
	if c.Kind == plan.Remove {
		b.WriteString("- **On merge:** the reconciler stops routing this model.\n")
	} else {
		fmt.Fprintf(b, "- **Rollout:** %s\n", mdText(c.Rollout))
		b.WriteString("- **Checks:**")
		if len(c.Checks) == 0 {
			b.WriteString(" none\n")
		} else {
			b.WriteString("\n")
			for _, ch := range c.Checks {
				fmt.Fprintf(b, "  - %s\n", mdText(ch))
			}
		}
		fmt.Fprintf(b, "- **On failure:** %s\n", mdText(c.OnFailure))
		if c.Shadow != "" {
			fmt.Fprintf(b, "- **Shadow:** %s\n", mdText(c.Shadow))
		}
		if c.Experiment != "" {
			fmt.Fprintf(b, "- **Experiment:** %s\n", mdText(c.Experiment))
		}
		b.WriteString("- **Offline validation:**")
		writeValidations(b, e)
		b.WriteString("- **Shadow evidence:**")
		writeShadow(b, e)
	}
	b.WriteString("- **Policy:**")
	if len(c.Findings) == 0 {
		b.WriteString(" ✅ no findings\n")
	} else {
		b.WriteString("\n")
		for _, d := range c.Findings {
			b.WriteString("  - " + diagLine(d) + "\n")
		}
	}
	fmt.Fprintf(b, "- **Roll back:** after the merge, revert the merge commit (the **Revert** button on this pull request, or `git revert -m 1 <merge commit>`); the reconciler carries the revert out like any change. Or run this workflow with `rollback: %s`.\n\n", c.Key())
}

// mdText escapes text for Markdown outside `code spans`, which it keeps.
func mdText(s string) string {
	parts := strings.Split(s, "`")
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", `\*`, "|", `\|`, "[", `\[`, "]", `\]`)
	for i := 0; i < len(parts); i += 2 {
		parts[i] = r.Replace(parts[i])
	}
	return strings.Join(parts, "`")
}

func diagLine(d diag.Diagnostic) string {
	icon := "❌"
	if d.Severity == diag.Warning {
		icon = "⚠️"
	}
	var b strings.Builder
	b.WriteString(icon + " ")
	if d.File != "" {
		if d.Line > 0 {
			fmt.Fprintf(&b, "`%s:%d`: ", d.File, d.Line)
		} else {
			fmt.Fprintf(&b, "`%s`: ", d.File)
		}
	}
	b.WriteString("**" + mdText(oneLine(d.Summary)) + "**")
	if d.Detail != "" {
		b.WriteString(" — " + mdText(oneLine(d.Detail)))
	}
	if d.Rule != "" {
		fmt.Fprintf(&b, " (`%s`)", d.Rule)
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func policyCell(ds []diag.Diagnostic) string {
	var e, w int
	for _, d := range ds {
		if d.Severity == diag.Error {
			e++
		} else {
			w++
		}
	}
	switch {
	case e > 0 && w > 0:
		return fmt.Sprintf("❌ %s, %s", plural(e, "error"), plural(w, "warning"))
	case e > 0:
		return "❌ " + plural(e, "error")
	case w > 0:
		return "⚠️ " + plural(w, "warning")
	}
	return "✅"
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func validationCell(c *Evidence) string {
	if len(c.Validations) == 0 {
		return "—"
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(c.Validations)) {
		o := c.Validations[v]
		switch {
		case o.Err != "":
			parts = append(parts, fmt.Sprintf("❌ `%s` could not run", v))
		case o.Result.Passed:
			parts = append(parts, fmt.Sprintf("✅ `%s` %s %s%s", v, o.Result.Metric, num(o.Result.Value), baselineCell(o.Result.Baseline)))
		default:
			parts = append(parts, fmt.Sprintf("❌ `%s` %s %s%s", v, o.Result.Metric, num(o.Result.Value), baselineCell(o.Result.Baseline)))
		}
	}
	return strings.Join(parts, "<br>")
}

func writeValidations(b *strings.Builder, c *Evidence) {
	if len(c.Validations) == 0 {
		b.WriteString(" none run (no promoted or added version has a `validation` block, or validation is off)\n")
		return
	}
	b.WriteString("\n")
	for _, v := range slices.Sorted(maps.Keys(c.Validations)) {
		o := c.Validations[v]
		if o.Err != "" {
			fmt.Fprintf(b, "  - ❌ `%s`: could not run: %s\n", v, mdText(oneLine(o.Err)))
			continue
		}
		res := o.Result
		icon := "✅"
		if !res.Passed {
			icon = "❌"
		}
		thr := "no threshold"
		if res.Threshold != nil {
			op := "≥"
			if res.Bound == "max" {
				op = "≤"
			}
			thr = fmt.Sprintf("want %s %s", op, num(*res.Threshold))
		}
		lat := fmt.Sprintf("latency p99 %ss", num(res.LatencyP99))
		if res.MaxLatencyP99 != nil {
			lat += fmt.Sprintf(" (want ≤ %ss)", num(*res.MaxLatencyP99))
		}
		fmt.Fprintf(b, "  - %s `%s`: %s %s (%s)%s; %s; %d samples, %d failed requests", icon, v, res.Metric, num(res.Value), thr,
			baselineText(v, res.Metric, res.Baseline), lat, res.Samples, res.Errors)
		if res.Skipped > 0 {
			fmt.Fprintf(b, ", %d not sent", res.Skipped)
		}
		if !res.Passed {
			fmt.Fprintf(b, " — %s", mdText(oneLine(res.Reason)))
		}
		b.WriteString("\n")
	}
}

// baselineCell is the serving version's figure beside the candidate's in
// the summary table.
func baselineCell(bl *offline.Baseline) string {
	if bl == nil || bl.Regression == nil {
		return ""
	}
	return fmt.Sprintf(" vs `%s` %s", bl.Version, num(bl.Value))
}

// baselineText puts the serving version's figure beside the candidate's:
// " vs `v7` (serving) 0.92: 0.01 worse (want ≤ 0.005 worse)".
func baselineText(cand, metric string, bl *offline.Baseline) string {
	if bl == nil {
		return ""
	}
	if bl.Regression == nil {
		return "; baseline: " + mdText(oneLine(bl.Note))
	}
	var t strings.Builder
	fmt.Fprintf(&t, " vs `%s` (serving) %s %s: ", bl.Version, metric, num(bl.Value))
	switch r := *bl.Regression; {
	case r > 0:
		fmt.Fprintf(&t, "`%s` %s worse", cand, num(r))
	case r < 0:
		fmt.Fprintf(&t, "`%s` %s better", cand, num(-r))
	default:
		t.WriteString("equal")
	}
	if bl.MaxRegression != nil {
		fmt.Fprintf(&t, " (want ≤ %s worse)", num(*bl.MaxRegression))
	}
	if bl.Note != "" {
		fmt.Fprintf(&t, "; baseline: %s", mdText(oneLine(bl.Note)))
	}
	return t.String()
}

func shadowCell(c *Evidence) string {
	if len(c.Shadow) == 0 {
		return "—"
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(c.Shadow)) {
		e := c.Shadow[v]
		icon := "✅"
		if p, ok := e["passed"].(bool); ok && !p {
			icon = "❌"
		}
		s := fmt.Sprintf("%s `%s`", icon, v)
		if a, ok := e["agreement"].(float64); ok {
			s += " " + num(a)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "<br>")
}

func writeShadow(b *strings.Builder, c *Evidence) {
	if len(c.Shadow) == 0 {
		b.WriteString(" none recorded in `refs/notes/switchyard` for the versions this change serves\n")
		return
	}
	b.WriteString("\n")
	for _, v := range slices.Sorted(maps.Keys(c.Shadow)) {
		e := c.Shadow[v]
		icon, verdict := "✅", "passed"
		if p, ok := e["passed"].(bool); ok && !p {
			icon, verdict = "❌", "failed"
		}
		s := fmt.Sprintf("  - %s `%s` shadow assessment %s", icon, v, verdict)
		if a, ok := e["agreement"].(float64); ok {
			s += ": agreement " + num(a)
		}
		if n, ok := e["samples"].(float64); ok {
			s += fmt.Sprintf(" over %s samples", num(n))
		}
		if c, _ := e["commit"].(string); c != "" {
			s += fmt.Sprintf(" (commit `%s`)", commitid.Short(c))
		}
		b.WriteString(s + "\n")
	}
}
