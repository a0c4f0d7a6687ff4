package action

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// CheckName is the check run the action creates.
const CheckName = "switchyard"

// AnnotationBatch is the most annotations one check run request may carry.
const AnnotationBatch = 50

// GitHub's limits on a check run output's summary and text, and on an
// annotation's title and message.
const (
	maxCheckText         = 65535
	maxAnnotationTitle   = 255
	maxAnnotationMessage = 64 << 10
)

// annotations turns diagnostics with a file into check run annotations.
func annotations(diags []diag.Diagnostic) []Annotation {
	var out []Annotation
	for _, d := range diags {
		if d.File == "" {
			continue
		}
		a := Annotation{Path: d.File, StartLine: max(d.Line, 1), EndLine: max(d.EndLine, d.Line, 1),
			Level: "failure", Title: truncate(d.Summary, maxAnnotationTitle), Message: truncate(annotationMessage(d), maxAnnotationMessage)}
		if d.Severity == diag.Warning {
			a.Level = "warning"
		}
		if a.StartLine == a.EndLine && d.Column > 0 {
			a.StartCol = d.Column
			if d.EndCol > d.Column {
				a.EndCol = d.EndCol
			}
		}
		out = append(out, a)
	}
	return out
}

func annotationMessage(d diag.Diagnostic) string {
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Rule != "" {
		msg += " (" + d.Rule + ")"
	}
	return msg
}

// conclusion is a check run conclusion for an outcome.
func conclusion(failed, warned bool) string {
	switch {
	case failed:
		return "failure"
	case warned:
		return "neutral"
	}
	return "success"
}

// annotate reports diagnostics on the exact HCL lines: a check run on the
// head commit, its annotations sent in batches of 50 (the first with the
// create, the rest as updates, the last completing the run). When the
// token may not create check runs (403/404) it falls back to workflow
// commands, which the runner turns into annotations.
func (r *runner) annotate(ctx context.Context, headSHA, title, summary, text string, diags []diag.Diagnostic, concl string) error {
	anns := annotations(diags)
	batches := batch(anns, AnnotationBatch)
	run := CheckRun{Name: CheckName, HeadSHA: headSHA, Title: title,
		Summary: truncate(summary, maxCheckText), Text: truncate(text, maxCheckText)}
	first := run
	if len(batches) > 0 {
		first.Annotations = batches[0]
	}
	if len(batches) <= 1 {
		first.Status, first.Conclusion = "completed", concl
	} else {
		first.Status = "in_progress"
	}
	id, err := r.gh.CreateCheckRun(ctx, r.owner, r.repo, first)
	if err != nil {
		if s := statusOf(err); s != 403 && s != 404 {
			fmt.Fprintf(r.cfg.Stderr, "switchyard: %v; reporting annotations as workflow commands instead\n", err)
		} else {
			fmt.Fprintf(r.cfg.Stdout, "switchyard: the token cannot create check runs (status %d; grant `checks: write`): annotating with workflow commands\n", s)
		}
		WriteWorkflowCommands(r.cfg.Stdout, diags)
		return nil
	}
	for i := 1; i < len(batches); i++ {
		upd := CheckRun{Name: CheckName, Title: title, Summary: run.Summary, Annotations: batches[i]}
		if i == len(batches)-1 {
			upd.Status, upd.Conclusion = "completed", concl
		}
		if err := r.gh.UpdateCheckRun(ctx, r.owner, r.repo, id, upd); err != nil {
			fmt.Fprintf(r.cfg.Stderr, "switchyard: %v; reporting the remaining annotations as workflow commands\n", err)
			writeAnnotationCommands(r.cfg.Stdout, flatten(batches[i:]))
			return nil
		}
	}
	return nil
}

func batch(anns []Annotation, n int) [][]Annotation {
	var out [][]Annotation
	for len(anns) > 0 {
		k := min(n, len(anns))
		out = append(out, anns[:k])
		anns = anns[k:]
	}
	return out
}

func flatten(bs [][]Annotation) []Annotation {
	var out []Annotation
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// WriteWorkflowCommands prints each diagnostic as a `::error` or
// `::warning` workflow command, with file, line and column when known.
func WriteWorkflowCommands(w io.Writer, diags []diag.Diagnostic) {
	for _, d := range diags {
		cmd := "error"
		if d.Severity == diag.Warning {
			cmd = "warning"
		}
		var props []string
		if d.File != "" {
			props = append(props, "file="+escapeProperty(d.File))
			if d.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", d.Line))
				if d.Column > 0 {
					props = append(props, fmt.Sprintf("col=%d", d.Column))
				}
				if d.EndLine > d.Line {
					props = append(props, fmt.Sprintf("endLine=%d", d.EndLine))
				} else if d.EndCol > d.Column && d.Column > 0 {
					props = append(props, fmt.Sprintf("endColumn=%d", d.EndCol))
				}
			}
		}
		props = append(props, "title="+escapeProperty(d.Summary))
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(annotationMessage(d)))
	}
}

func writeAnnotationCommands(w io.Writer, anns []Annotation) {
	for _, a := range anns {
		cmd := "error"
		if a.Level == "warning" {
			cmd = "warning"
		}
		props := []string{"file=" + escapeProperty(a.Path), fmt.Sprintf("line=%d", a.StartLine)}
		if a.StartCol > 0 {
			props = append(props, fmt.Sprintf("col=%d", a.StartCol))
		}
		props = append(props, "title="+escapeProperty(a.Title))
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(a.Message))
	}
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// truncate cuts s to at most n bytes on a rune boundary, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const note = "\n\n… (truncated)"
	cut := n - len(note)
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + note
}
