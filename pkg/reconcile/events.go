package reconcile

import (
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Notifier announces the daemon's events to the notify blocks of the
// tree in force (SPEC.md §9). Notify must never block: a restore is
// never delayed by an announcement.
type Notifier interface {
	Notify(blocks map[string]*spec.Notify, ev notify.Event)
}

// announce keeps ev among the recent events of the status page and
// hands it to the Notifier with the notify blocks of tree (nil: none).
func (d *Daemon) announce(tree *spec.Tree, ev notify.Event) {
	ev.At = d.deps.Clock.Now()
	d.hist.recordEvent(ev)
	if d.deps.Notifier == nil {
		return
	}
	var blocks map[string]*spec.Notify
	if tree != nil {
		blocks = tree.Notify
	}
	d.deps.Notifier.Notify(blocks, ev)
}

// noticeStep announces what one engine Step did to a model: a rollout
// started, paused (once per pause, not every tick; a step held long for
// traffic the router has not acknowledged everywhere is a pause too),
// succeeded, or ended
// because Git changed its mind (aborted, superseded). The
// outcome commits (rollback, fallback, ...) are announced when written,
// with the commit's id (see announceOutcome).
func (d *Daemon) noticeStep(tree *spec.Tree, m *spec.Model, prev, next rollout.ModelState, acts []rollout.Action) {
	base := notify.Event{Model: m.Name, Stage: m.Stage}
	if r := next.Rollout; r != nil {
		p := prev.Rollout
		same := p != nil && p.To == r.To && p.From == r.From && p.StartedAt.Equal(r.StartedAt)
		if !same {
			ev := base
			ev.Event, ev.From, ev.To, ev.Commit, ev.Reason = "started", r.From, r.To, r.Commit, next.Message
			d.announce(tree, ev)
		}
		// Paused: no data for a whole bake, or the router has not had the
		// step's traffic everywhere for long (a replica that stays down).
		paused := func(r *rollout.RolloutState) bool { return r.Paused || r.UnappliedLong }
		if paused(r) && !(same && paused(p)) {
			ev := base
			ev.Event, ev.From, ev.To, ev.Commit, ev.Reason = "paused", r.From, r.To, r.Commit, next.Message
			d.announce(tree, ev)
		}
	}
	for _, a := range acts {
		v, ok := a.(rollout.RecordVerdict)
		if !ok || v.Kind != rollout.VerdictRollout {
			continue
		}
		rv, ok := v.Payload.(rollout.RolloutVerdict)
		if !ok {
			continue
		}
		switch rv.Outcome {
		case "succeeded":
			ev := base
			ev.Event, ev.From, ev.To, ev.Commit = "succeeded", rv.From, rv.Version, v.Commit
			ev.Reason = next.Message
			d.announce(tree, ev)
		case "aborted", "superseded":
			// Git changed its mind mid-rollout. Not an event notify blocks
			// can ask for (SPEC.md §9), but the status page lists it and a
			// deployment in progress ends with it.
			ev := base
			ev.Event, ev.From, ev.To, ev.Commit, ev.Reason = rv.Outcome, rv.From, rv.Version, v.Commit, rv.Reason
			d.announce(tree, ev)
		}
	}
}

// announceOutcome announces an outcome once: when its commit is written
// (commit is its id), or, when the first write fails or Git moved on,
// without a commit and with note saying why.
func (d *Daemon) announceOutcome(tree *spec.Tree, p *pending, commit, note string) {
	if p.announced {
		return
	}
	p.announced = true
	o := p.out
	reason := o.Reason
	if note == "" {
		note = d.proposedAs(o.Key(), commit)
	}
	if note != "" {
		reason += " (" + note + ")"
	}
	d.announce(tree, notify.Event{Event: string(o.Kind), Model: o.Model, Stage: o.Stage,
		From: o.From, To: o.To, Reason: reason, Commit: commit})
}

// announceRejected announces a head that failed validation or policy, to
// the notify blocks of the tree still in force.
func (d *Daemon) announceRejected(head, reason string) {
	d.announce(d.tree, notify.Event{Event: "rejected_head", Commit: head, Reason: reason})
}

// rejectionReason is the first errors of a rejected head, one per line.
func rejectionReason(diags []diag.Diagnostic) string {
	var lines []string
	for _, dg := range diags {
		if dg.Severity != diag.Error {
			continue
		}
		if len(lines) == 3 {
			lines = append(lines, "…")
			break
		}
		where := dg.File
		if dg.Line > 0 {
			where += ":" + strconv.Itoa(dg.Line)
		}
		line := dg.Summary
		if dg.Detail != "" {
			line += ": " + dg.Detail
		}
		if where != "" {
			line = where + ": " + line
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
