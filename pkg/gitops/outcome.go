package gitops

import (
	"fmt"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

// Action is what an outcome does to serve (SPEC.md §6): the engine's
// commit kind, written in the Switchyard-Action trailer.
type Action = rollout.CommitKind

// The actions.
const (
	ActionRollback    = rollout.CommitRollback
	ActionFallback    = rollout.CommitFallback
	ActionRollThrough = rollout.CommitRollThrough
	ActionPromote     = rollout.CommitPromote
	ActionConclude    = rollout.CommitConclude
)

// Trailer keys written on every outcome commit.
const (
	TrailerAction  = "Switchyard-Action"
	TrailerModel   = "Switchyard-Model"
	TrailerReverts = "Switchyard-Reverts"
)

// ErrSuperseded is returned when the branch no longer says what the
// outcome undoes (rollout.ErrSuperseded, the one sentinel).
var ErrSuperseded = rollout.ErrSuperseded

// validate checks an outcome, one automated decision to write back to Git:
// the engine's rollout.WriteCommit, the one type from the engine through
// the daemon's queue to the commit. Its Kind is the Switchyard-Action
// trailer; for a rollback, RevertsCommit names the commit to revert (empty:
// found with LastServeChange).
func validate(o rollout.WriteCommit) error {
	if err := validateKind(o); err != nil {
		return err
	}
	if o.Kind != ActionConclude && o.To == "" {
		return fmt.Errorf("outcome %s for %s: no target version", o.Kind, o.Key())
	}
	if o.Model == "" || o.Stage == "" || o.File == "" {
		return fmt.Errorf("outcome %s: model, stage and file are required (got %q %q %q)", o.Kind, o.Model, o.Stage, o.File)
	}
	return nil
}

func validateKind(o rollout.WriteCommit) error {
	switch o.Kind {
	case ActionRollback, ActionFallback, ActionRollThrough, ActionPromote, ActionConclude:
		return nil
	}
	return fmt.Errorf("outcome for %s: unknown action %q (want rollback, fallback, roll_through, promote or conclude)", o.Key(), o.Kind)
}

// revertInfo describes the commit a rollback undoes.
type revertInfo struct {
	sha   string
	title string
	clean bool   // a true revert of that commit
	why   string // when not true: why only serve was set back
}

// Message is the commit message for o, exactly as SPEC.md §6. rev is the
// commit a rollback undoes (nil for other actions); settled says what the
// edit removed beside serve (spec.SettleServe).
func message(o rollout.WriteCommit, rev *revertInfo, settled ...string) string {
	key := o.Key()
	var titleLine, summary string
	var extra []string
	switch o.Kind {
	case ActionRollback:
		titleLine = fmt.Sprintf("Roll back %s from %s to %s", key, o.From, o.To)
		if rev != nil && rev.clean {
			// As git revert titles it: the title in plain quotes, not Go's
			// escaped ones (a revert of a revert reads Revert "Revert "x"").
			titleLine = `Revert "` + rev.title + `"`
		}
		summary = fmt.Sprintf("%s rolled back from %s to %s", key, o.From, o.To)
		if rev != nil && !rev.clean && rev.sha != "" {
			extra = append(extra, fmt.Sprintf("Commit %s does not revert cleanly (%s), so only serve is set back.", commitid.Short(rev.sha), rev.why))
		}
	case ActionFallback:
		titleLine = fmt.Sprintf("Fall back %s to %s", key, o.To)
		summary = fmt.Sprintf("%s fell back from %s to %s", key, o.From, o.To)
	case ActionRollThrough:
		titleLine = fmt.Sprintf("Roll %s through to %s", key, o.To)
		summary = fmt.Sprintf("%s rolled through from %s to %s", key, o.From, o.To)
	case ActionPromote:
		titleLine = fmt.Sprintf("Promote %s to %s (experiment winner)", key, o.To)
		summary = fmt.Sprintf("%s promoted %s, the experiment's winner, replacing %s", key, o.To, o.From)
		if o.From == o.To || o.From == "" {
			summary = fmt.Sprintf("%s keeps %s, the experiment's winner", key, o.To)
		}
		extra = append(extra, "The experiment block is removed.")
	case ActionConclude:
		titleLine = "Conclude experiment on " + key
		serving := o.To
		if serving == "" {
			serving = o.From
		}
		summary = fmt.Sprintf("%s concluded its experiment with no winner; %s keeps serving", key, serving)
		extra = append(extra, "The experiment block is removed.")
	}

	extra = append(extra, settled...)
	var b strings.Builder
	b.WriteString(titleLine)
	b.WriteString("\n\n")
	if rev != nil && rev.clean {
		fmt.Fprintf(&b, "This reverts commit %s.\n\n", rev.sha)
	}
	b.WriteString(withReason(summary, o.Reason))
	b.WriteString("\n\n")
	for _, e := range extra {
		b.WriteString(e)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "%s: %s\n%s: %s\n", TrailerAction, o.Kind, TrailerModel, key)
	if o.Kind == ActionRollback && rev != nil && rev.sha != "" {
		fmt.Fprintf(&b, "%s: %s\n", TrailerReverts, rev.sha)
	}
	return b.String()
}

// withReason joins the summary and the measured reason, breaking the line
// as SPEC.md §6 does when it would pass 72 columns: after the reason's
// first clause ("check "errors" failed:") when that fits, otherwise before
// the reason. Long reasons are not wrapped further.
func withReason(summary, reason string) string {
	const width = 72
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return summary + "."
	}
	line := summary + ": " + reason
	if len(line) <= width && !strings.Contains(reason, "\n") {
		return line
	}
	if head, detail, ok := strings.Cut(reason, ": "); ok && len(summary)+len(head)+3 <= width && !strings.Contains(head, "\n") {
		return summary + ": " + head + ":\n" + strings.TrimSpace(detail)
	}
	return summary + ":\n" + reason
}

// Trailers parses the trailer block at the end of a commit message.
func Trailers(msg string) map[string]string {
	out := map[string]string{}
	paras := strings.Split(strings.TrimSpace(msg), "\n\n")
	last := paras[len(paras)-1]
	for _, line := range strings.Split(last, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			return map[string]string{}
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}
