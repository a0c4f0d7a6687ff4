package action

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/plan"
)

// reportPR posts the sticky comment and the annotations, writes the job
// summary and the outputs, and returns the exit code.
func (r *runner) reportPR(ctx context.Context, pr *prEvent, rep *Report) (int, error) {
	md := rep.Markdown()
	if r.cfg.Comment {
		// A pull request that touches no model gets no new comment, but an
		// earlier plan is brought up to date.
		quiet := len(rep.Plan.Changes) == 0 && len(rep.Diagnostics()) == 0
		if err := r.upsertComment(ctx, pr.number, md, !quiet); err != nil {
			if s := statusOf(err); s != 403 && s != 404 {
				return ExitEnvironment, fmt.Errorf("posting the plan comment on #%d: %w", pr.number, err)
			}
			// A read-only token (a pull request from a fork): the summary
			// and the annotations still carry the plan.
			fmt.Fprintf(r.cfg.Stdout, "::warning title=switchyard::%s\n", escapeData(fmt.Sprintf(
				"cannot comment on #%d (%v): grant `pull-requests: write`; the plan is in the job summary", pr.number, err)))
		}
	}
	diags := rep.Diagnostics()
	failed := rep.Plan.Errors > 0
	warned := rep.Plan.Warnings > 0
	title := rep.Headline()
	// The check run goes on the pull request's head commit, even when the
	// judged commit is the merge of it into the base.
	if err := r.annotate(ctx, pr.headSHA, title, title, md, diags, conclusion(failed, warned && r.cfg.FailOnWarn)); err != nil {
		return ExitEnvironment, err
	}
	if err := writeSummary(r.cfg.SummaryPath, md); err != nil {
		return ExitEnvironment, err
	}
	changes := rep.Plan.Changes
	if changes == nil {
		changes = []plan.Change{}
	}
	cj, err := json.Marshal(changes)
	if err != nil {
		return ExitEnvironment, fmt.Errorf("encoding the changes output: %w", err)
	}
	valid := "true"
	if failed {
		valid = "false"
	}
	if err := writeOutputs(r.cfg.OutputPath, []Output{
		{"valid", valid}, {"changes", string(cj)}, {"plan", md},
	}); err != nil {
		return ExitEnvironment, err
	}
	fmt.Fprintf(r.cfg.Stdout, "switchyard: %s\n", title)
	switch {
	case failed:
		return ExitFailed, nil
	case warned && r.cfg.FailOnWarn:
		fmt.Fprintln(r.cfg.Stdout, "switchyard: failing on warnings (fail-on-warn)")
		return ExitFailed, nil
	}
	return ExitOK, nil
}
