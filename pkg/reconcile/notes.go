package reconcile

import (
	"context"
	"time"
)

// pendingNote is a verdict note whose push failed, retried with backoff:
// the daemon's queue holds notes as it holds outcome commits, the Git
// writer keeps nothing.
type pendingNote struct {
	commit   string
	note     []byte
	attempts int
	nextTry  time.Time
}

// maxPendingNotes bounds the notes kept while Git is unreachable: the
// oldest are dropped past it (a verdict is evidence, not an outcome).
const maxPendingNotes = 1000

// note writes a verdict note, queueing it when the write fails.
func (d *Daemon) note(ctx context.Context, commit string, note []byte, model string) {
	if err := d.deps.Repo.Note(ctx, commit, note); err != nil {
		d.log.Error("writing verdict note failed; will retry", "model", model, "err", err)
		d.queueNote(&pendingNote{commit: commit, note: note, attempts: 1,
			nextTry: d.deps.Clock.Now().Add(d.backoff(1))})
	}
}

func (d *Daemon) queueNote(p *pendingNote) {
	d.pendingNotes = append(d.pendingNotes, p)
	if n := len(d.pendingNotes) - maxPendingNotes; n > 0 {
		d.log.Warn("too many verdict notes waiting for Git: dropping the oldest", "dropped", n)
		d.pendingNotes = append([]*pendingNote(nil), d.pendingNotes[n:]...)
	}
}

// retryNotes writes the queued notes that are due; one that fails again
// waits twice as long, up to PushBackoffMax.
func (d *Daemon) retryNotes(ctx context.Context) {
	now := d.deps.Clock.Now()
	var keep []*pendingNote
	for _, p := range d.pendingNotes {
		if now.Before(p.nextTry) {
			keep = append(keep, p)
			continue
		}
		if err := d.deps.Repo.Note(ctx, p.commit, p.note); err != nil {
			p.attempts++
			p.nextTry = now.Add(d.backoff(p.attempts))
			d.log.Warn("writing verdict note failed again; will retry", "commit", p.commit, "attempt", p.attempts, "err", err)
			keep = append(keep, p)
		}
	}
	d.pendingNotes = keep
}
