package reconcile

import (
	"context"
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

// ActionReader is implemented by a Repo that knows the reconciler's own
// outcome commits: CommitAction is the action of the outcome at commit,
// pushed by the reconciler or its pull request merged unchanged, and ""
// for any other commit (one a person wrote or changed, trailers or not),
// so that the daemon knows its own outcome commits when it judges them.
type ActionReader interface {
	CommitAction(ctx context.Context, commit string) (string, error)
}

// OwnRejection is one of the reconciler's own outcome commits rejected at
// the head: DESIGN.md invariant 8 says it never happens, so when it does
// the daemon says so loudly (an error log, GET /api/status, a metric).
// Git then names what the commit wrote while traffic stays as it is.
type OwnRejection struct {
	Commit string `json:"commit"`
	Action string `json:"action"`
	// Reason is the first error that rejected it, with file and line.
	Reason string `json:"reason"`
}

// judgedOwn records whether head, just judged, is an own outcome commit
// that was rejected; again says head was judged before (counted then). For
// such a commit it returns the words that open the rejected_head
// notification's reason.
func (d *Daemon) judgedOwn(ctx context.Context, head string, diags []diag.Diagnostic, rejected, again bool) string {
	var own *OwnRejection
	if ar, ok := d.deps.Repo.(ActionReader); ok && rejected {
		action, err := ar.CommitAction(ctx, head)
		if err != nil {
			d.log.Warn("reading the rejected head's Switchyard-Action trailer", "commit", head, "err", err)
		}
		if action != "" {
			own = &OwnRejection{Commit: head, Action: action, Reason: firstError(diags)}
		}
	}
	d.ownRejected = own
	if own == nil {
		return ""
	}
	if !again {
		d.deps.Metrics.ownRejected.Inc()
		d.log.Error("the reconciler's own outcome commit is rejected: Git names what it wrote while traffic stays as it was; fix the spec by hand and report this as a bug",
			"commit", head, "action", own.Action, "reason", own.Reason)
	}
	return fmt.Sprintf("this is the reconciler's own %s commit (a bug: Git names what it wrote while traffic stays as it was; fix the spec by hand):\n", own.Action)
}

func firstError(diags []diag.Diagnostic) string {
	for _, dg := range diags {
		if dg.Severity == diag.Error {
			return fmt.Sprintf("%s:%d: %s: %s", dg.File, dg.Line, dg.Summary, dg.Detail)
		}
	}
	return "the spec does not load"
}
