package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// Output formats of Render.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// Render writes p in format: text, json or markdown.
func Render(w io.Writer, p *Plan, format string) error {
	switch format {
	case FormatText, "":
		return RenderText(w, p)
	case FormatJSON:
		return RenderJSON(w, p)
	case FormatMarkdown, "md":
		return RenderMarkdown(w, p)
	default:
		return fmt.Errorf("unknown plan format %q (want text, json or markdown)", format)
	}
}

// RenderJSON writes p as indented JSON.
func RenderJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func (p *Plan) summary() string {
	a, c, r := p.Counts()
	return fmt.Sprintf("%d to add, %d to change, %d to remove", a, c, r)
}

func (p *Plan) verdict() string {
	counts := plural(p.Errors, "error") + ", " + plural(p.Warnings, "warning")
	if p.Valid {
		return "valid (" + counts + ")"
	}
	return "blocked (" + counts + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func headline(c Change) string {
	switch {
	case c.Kind == Add:
		return "new, serves " + c.To
	case c.Kind == Remove:
		return "removed, served " + c.From
	case c.From != c.To:
		return c.From + " → " + c.To
	default:
		return "serves " + c.To + " (unchanged)"
	}
}

func sigil(k Kind) string {
	switch k {
	case Add:
		return "+"
	case Remove:
		return "-"
	default:
		return "~"
	}
}

func at(d diag.Diagnostic) string {
	if d.File == "" {
		return ""
	}
	if d.Line == 0 {
		return d.File
	}
	return fmt.Sprintf("%s:%d", d.File, d.Line)
}

// RenderText writes p for a terminal.
func RenderText(w io.Writer, p *Plan) error {
	var b bytes.Buffer
	if p.Base != "" || p.Head != "" {
		fmt.Fprintf(&b, "Switchyard plan: %s → %s\n\n", p.Base, p.Head)
	}
	if len(p.Changes) == 0 {
		b.WriteString("No changes: merging changes no model.\n\n")
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s (%s): %s\n", sigil(c.Kind), c.Key(), c.File, headline(c))
		row := func(label, value string) {
			fmt.Fprintf(&b, "    %-12s%s\n", label+":", value)
		}
		rows := func(label string, values []string) {
			for i, v := range values {
				if i > 0 {
					label = ""
					fmt.Fprintf(&b, "    %-12s%s\n", "", v)
					continue
				}
				row(label, v)
			}
		}
		if c.Kind == Update {
			row("changed", changedText(c))
		}
		if c.Kind != Remove {
			row("rollout", c.Rollout)
			if c.PreviousRollout != "" {
				row("  was", c.PreviousRollout)
			}
			if len(c.Checks) == 0 {
				row("checks", "none")
			}
			rows("checks", c.Checks)
			rows("  was", c.PreviousChecks)
			row("on failure", c.OnFailure)
			if c.PreviousOnFailure != "" {
				row("  was", c.PreviousOnFailure)
			}
			if c.Shadow != "" {
				row("shadow", c.Shadow)
			}
			if c.Experiment != "" {
				row("experiment", c.Experiment)
			}
		}
		var fs []string
		for _, d := range c.Findings {
			fs = append(fs, textFinding(d))
		}
		rows("policy", fs)
		b.WriteString("\n")
	}
	if len(p.Diagnostics) > 0 {
		b.WriteString("Other findings:\n")
		for _, d := range p.Diagnostics {
			fmt.Fprintf(&b, "  %s\n", textFinding(d))
			if d.Source != diag.SourcePolicy && d.Detail != "" {
				fmt.Fprintf(&b, "      %s\n", d.Detail)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Plan: %s. %s.\n", p.summary(), upperFirst(p.verdict()))
	_, err := w.Write(b.Bytes())
	return err
}

func textFinding(d diag.Diagnostic) string {
	s := string(d.Severity) + ": " + d.Summary
	var where []string
	if d.Rule != "" {
		where = append(where, d.Rule)
	}
	if a := at(d); a != "" {
		where = append(where, a)
	}
	if len(where) > 0 {
		s += " [" + strings.Join(where, ", ") + "]"
	}
	return s
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// RenderMarkdown writes p as GitHub-flavoured Markdown, the body of the
// plan comment the GitHub Action posts on a pull request.
func RenderMarkdown(w io.Writer, p *Plan) error {
	var b bytes.Buffer
	b.WriteString("### Switchyard plan\n\n")
	if p.Base != "" || p.Head != "" {
		fmt.Fprintf(&b, "`%s` → `%s`\n\n", p.Base, p.Head)
	}
	mark := "✅"
	if !p.Valid {
		mark = "❌"
	}
	fmt.Fprintf(&b, "**%s** · %s %s\n\n", p.summary(), mark, p.verdict())
	if len(p.Changes) == 0 {
		b.WriteString("No changes: merging changes no model.\n\n")
	}
	for _, c := range p.Changes {
		head := headline(c)
		if c.Kind == Update && c.From != c.To {
			head = "`" + c.From + "` → `" + c.To + "`"
		}
		fmt.Fprintf(&b, "#### %s `%s`: %s\n\n", sigil(c.Kind), c.Key(), md(head))
		fmt.Fprintf(&b, "- **file:** `%s`\n", c.File)
		if c.Kind == Update {
			fmt.Fprintf(&b, "- **changed:** %s\n", md(changedText(c)))
		}
		if c.Kind != Remove {
			fmt.Fprintf(&b, "- **rollout:** %s%s\n", md(c.Rollout), mdWas(c.PreviousRollout))
			if len(c.Checks) == 0 {
				b.WriteString("- **checks:** none\n")
			} else {
				b.WriteString("- **checks:**\n")
				for _, ch := range c.Checks {
					fmt.Fprintf(&b, "  - %s\n", md(ch))
				}
			}
			if len(c.PreviousChecks) > 0 {
				fmt.Fprintf(&b, "  - _was:_ %s\n", md(strings.Join(c.PreviousChecks, "; ")))
			}
			fmt.Fprintf(&b, "- **on failure:** %s%s\n", md(c.OnFailure), mdWas(c.PreviousOnFailure))
			if c.Shadow != "" {
				fmt.Fprintf(&b, "- **shadow:** %s\n", md(c.Shadow))
			}
			if c.Experiment != "" {
				fmt.Fprintf(&b, "- **experiment:** %s\n", md(c.Experiment))
			}
		}
		if len(c.Findings) > 0 {
			b.WriteString("- **policy:**\n")
			for _, d := range c.Findings {
				fmt.Fprintf(&b, "  - %s\n", mdFinding(d))
			}
		}
		b.WriteString("\n")
	}
	if len(p.Diagnostics) > 0 {
		b.WriteString("#### Other findings\n\n")
		for _, d := range p.Diagnostics {
			fmt.Fprintf(&b, "- %s\n", mdFinding(d))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

func mdFinding(d diag.Diagnostic) string {
	icon := "⚠️ **warning**"
	if d.Severity == diag.Error {
		icon = "❌ **error**"
	}
	var where []string
	if d.Rule != "" {
		where = append(where, "`"+d.Rule+"`")
	}
	if a := at(d); a != "" {
		where = append(where, "`"+a+"`")
	}
	s := icon
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s + ": " + md(d.Summary)
}

// md escapes text for Markdown outside `code spans`, which it keeps.
func md(s string) string {
	parts := strings.Split(s, "`")
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", `\*`, "|", `\|`, "[", `\[`, "]", `\]`)
	for i := 0; i < len(parts); i += 2 {
		parts[i] = r.Replace(parts[i])
	}
	return strings.Join(parts, "`")
}

// changedText lists the changed parts, with the versions added and removed.
func changedText(c Change) string {
	parts := make([]string, 0, len(c.Changed))
	for _, p := range c.Changed {
		if p == "versions" {
			var vs []string
			for _, v := range c.VersionsAdded {
				vs = append(vs, "+"+v)
			}
			for _, v := range c.VersionsRemoved {
				vs = append(vs, "-"+v)
			}
			if len(vs) > 0 {
				p += " (" + strings.Join(vs, " ") + ")"
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func mdWas(s string) string {
	if s == "" {
		return ""
	}
	return " (_was:_ " + md(s) + ")"
}
