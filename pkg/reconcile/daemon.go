// Package reconcile is the GitOps loop of `reconciler run`: it fetches the
// spec repository, validates and policy-checks each new head, steps the
// rollout engine for every model, applies traffic to the routers, measures,
// and writes the outcomes back to Git as commits and notes — traffic first.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
	"github.com/switchyard-dev/switchyard/pkg/diag"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Repo is what the daemon needs of the spec repository.
type Repo interface {
	// Fetch brings the remote branch's head and returns it.
	Fetch(ctx context.Context) (head string, err error)
	// Tree is the repository at a commit, rooted at the repository root.
	Tree(ctx context.Context, commit string) (fs.FS, error)
	// Write commits an outcome the engine asked for on the branch and
	// pushes it, rebasing on a concurrent push; it returns the new commit.
	Write(ctx context.Context, o rollout.WriteCommit) (string, error)
	// Note attaches a JSON verdict to a commit under refs/notes/switchyard.
	Note(ctx context.Context, commit string, note []byte) error
	// NotesHead names the verdict notes as last fetched: the commit
	// refs/notes/switchyard points at ("" when there are none). It changes
	// whenever a note is added, replaced or removed, so a rejected head is
	// judged again when it changes.
	NotesHead(ctx context.Context) (string, error)
}

// ErrSuperseded is returned by Repo.Write when Git no longer says what the
// outcome undoes (a human committed a new intent): nothing is written and
// the outcome is dropped.
var ErrSuperseded = rollout.ErrSuperseded

// Checker loads, validates and policy-checks the tree of commit, judged
// against base, the tree in force, read from commit applied (nil and ""
// before the first). Diagnostics with severity error mean the tree must
// not be applied.
type Checker func(ctx context.Context, commit string, fsys fs.FS, base *spec.Tree, applied string) (*spec.Tree, []diag.Diagnostic)

// Target applies a whole routing table to one router.
type Target interface {
	Apply(ctx context.Context, t traffic.Table) error
}

// Routers gives the target for a router block, creating it on first use
// (and starting an in-process router where the block says `listen`).
type Routers interface {
	Target(ctx context.Context, r *spec.Router) (Target, error)
}

// Measurer measures what the engine needs to judge a model of tree.
type Measurer interface {
	Observe(ctx context.Context, tree *spec.Tree, m *spec.Model, st rollout.ModelState, now time.Time) (rollout.Observations, error)
}

// Store persists the engine's state, one JSON value per model key.
type Store interface {
	Save(key string, value []byte) error
	Delete(key string) error
	All() (map[string][]byte, error)
}

// Clock is the time source.
type Clock interface {
	Now() time.Time
}

// Config tunes the loop.
type Config struct {
	// PollInterval is how often the remote is fetched without a webhook.
	PollInterval time.Duration
	// Tick is the longest time between two engine steps.
	Tick time.Duration
	// PushBackoff is the first delay before retrying a failed commit; it
	// doubles up to PushBackoffMax.
	PushBackoff    time.Duration
	PushBackoffMax time.Duration
}

// Deps are the daemon's connections to the outside world.
type Deps struct {
	Repo     Repo
	Check    Checker
	Routers  Routers
	Measurer Measurer
	Store    Store
	Clock    Clock
	Logger   *slog.Logger
	Metrics  *Metrics
	// Notifier announces events to the notify blocks (nil: none).
	Notifier Notifier
}

// Daemon is the reconciler. Run it with Run (or call Reconcile, one pass
// at a time); read it with Status from any goroutine.
//
// The pass owns the daemon's state: only Reconcile (and what it calls)
// reads or writes the fields below the line, so they need no lock. Other
// goroutines see the state through the Status snapshot the pass publishes
// when it ends, and reach the loop through Trigger.
type Daemon struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	// Safe from any goroutine.
	wake     chan struct{}          // Trigger's nudge to a sleeping Run
	fetchNow atomic.Bool            // Trigger asked for a fetch on the next pass
	status   atomic.Pointer[Status] // the last pass's snapshot

	// Owned by the pass.
	state   rollout.State
	head    string
	checked string // the last head validated (applied or rejected)
	notes   string // NotesHead when checked was judged
	// appliedCommit is the commit being carried out, tree its specs.
	appliedCommit string
	tree          *spec.Tree
	// recovered is the commit in force before a restart (appliedKey in
	// the Store), taken up again before the first head is judged.
	recovered string
	headErr   string
	headDiags []diag.Diagnostic
	lastFetch time.Time
	nextFetch time.Time
	fetchErr  string
	pending   []*pending
	// pendingNotes are verdict notes whose write failed, retried.
	pendingNotes []*pendingNote
	// tableAcked is, per router name, the last table the router
	// acknowledged whole (Target.Apply returned no error).
	tableAcked map[string]traffic.Table
	// tableInForce holds the routers that acknowledged this pass's table
	// (or already had it): every route in it is in force.
	tableInForce map[string]bool
	lastByKey    map[string]string // model key -> last commit written
	modelErr     map[string]string
	// routes is, per model key, the route the engine gave it last.
	routes map[string]traffic.Route
	saved  map[string]string // model key -> state JSON last saved
	// shown is, per model key, its status when its route was last
	// acknowledged by its router: the status shows no step before the
	// router has its table.
	shown map[string]ModelStatus
	// prSwept is the commit in force when the outcome pull requests Git
	// no longer needs were last closed (closeStalePullRequests).
	prSwept string
	prSweep retry // after a failed closeStalePullRequests
	// prRebased is the commit in force when reproposeOnNewHead last ran.
	prRebased string
	// ownRejected is set while the head is an own outcome commit rejected.
	ownRejected *OwnRejection

	hist history // for the status page
}

type pending struct {
	out       rollout.WriteCommit
	attempts  int
	lastErr   string
	nextTry   time.Time
	announced bool // see announceOutcome
	// again: an outcome already proposed as a pull request, proposed
	// again on a newer head (reproposeOnNewHead), not a new commit.
	again bool
}

// New makes a daemon and restores its persisted state.
func New(cfg Config, deps Deps) (*Daemon, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.PushBackoff <= 0 {
		cfg.PushBackoff = time.Second
	}
	if cfg.PushBackoffMax <= 0 {
		cfg.PushBackoffMax = time.Minute
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	d := &Daemon{
		cfg: cfg, deps: deps, log: deps.Logger,
		wake:         make(chan struct{}, 1),
		state:        rollout.State{Models: map[string]rollout.ModelState{}},
		tableAcked:   map[string]traffic.Table{},
		tableInForce: map[string]bool{},
		lastByKey:    map[string]string{},
		modelErr:     map[string]string{},
		routes:       map[string]traffic.Route{},
		saved:        map[string]string{},
		shown:        map[string]ModelStatus{},
	}
	if deps.Store != nil {
		all, err := deps.Store.All()
		if err != nil {
			return nil, fmt.Errorf("reading state: %w", err)
		}
		revisions := map[string]int{}
		for k, v := range all {
			if k == appliedKey {
				d.recovered = string(v)
				continue
			}
			var ms rollout.ModelState
			if err := json.Unmarshal(v, &ms); err != nil {
				return nil, fmt.Errorf("state of %s is corrupt: %w", k, err)
			}
			d.state.Models[k] = ms
			d.saved[k] = string(v)
			if ms.Revision != "" {
				revisions[ms.Revision]++
			}
			// A commit asked for before a restart and never confirmed by
			// Git is written again (the remote side is idempotent).
			if ms.Awaiting != nil {
				d.pending = append(d.pending, &pending{out: *ms.Awaiting, announced: true})
			}
		}
		if d.recovered == "" {
			// State written before appliedKey existed: the commit most
			// models were last stepped on.
			for rev, n := range revisions {
				if n > revisions[d.recovered] || n == revisions[d.recovered] && rev < d.recovered {
					d.recovered = rev
				}
			}
		}
	}
	d.publish()
	return d, nil
}

// appliedKey is the Store key of the commit in force: model keys are
// "name/stage", so it cannot be one of them.
const appliedKey = "switchyard:applied"

// recover takes up the commit that was in force before a restart, so that
// the first head is judged against it (its policies, its tree), and so
// that, should the head be rejected, that commit keeps running: the
// reconciler's own builtin routers serve nothing without a tree. The
// commit was applied before, so it runs whatever the policies say of it
// now, but only if its specs still load: a commit whose specs no longer
// load is judged as a new head (and rejected), never run on a partial tree.
func (d *Daemon) recover(ctx context.Context) {
	commit := d.recovered
	d.recovered = ""
	fsys, err := d.deps.Repo.Tree(ctx, commit)
	if err != nil {
		d.log.Warn("the commit in force before the restart cannot be read: judging the head on its own", "commit", commit, "err", err)
		return
	}
	tree, diags := d.deps.Check(ctx, commit, fsys, nil, "")
	if tree == nil || diag.HasSpecErrors(diags) {
		// A tree with spec errors is only what could be read of the
		// specs: running it would drop the models that did not load.
		d.log.Warn("the commit in force before the restart does not load: judging the head on its own", "commit", commit, "errors", len(diags))
		return
	}
	d.tree, d.appliedCommit = tree, commit
	d.log.Info("resuming with the commit in force before the restart", "commit", commit)
}

// Trigger asks for a fetch on the next pass, and wakes Run for it (a
// verified push webhook). It never blocks.
func (d *Daemon) Trigger() {
	d.fetchNow.Store(true)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends. Nothing else may call Reconcile meanwhile.
func (d *Daemon) Run(ctx context.Context) error {
	for {
		if err := d.Reconcile(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("reconcile failed", "err", err)
		}
		t := time.NewTimer(d.wait())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// wait is how long to sleep before the next pass.
func (d *Daemon) wait() time.Duration {
	now := d.deps.Clock.Now()
	next := now.Add(d.cfg.Tick)
	if w := rollout.NextWake(d.state); !w.IsZero() && w.Before(next) {
		next = w
	}
	if !d.nextFetch.IsZero() && d.nextFetch.Before(next) {
		next = d.nextFetch
	}
	for _, p := range d.pending {
		if p.nextTry.Before(next) {
			next = p.nextTry
		}
	}
	for _, p := range d.pendingNotes {
		if p.nextTry.Before(next) {
			next = p.nextTry
		}
	}
	w := next.Sub(now)
	return min(max(w, 10*time.Millisecond), d.cfg.Tick)
}

// Reconcile does one pass: fetch when due, step every model, apply
// traffic, write commits and notes, then publish the Status snapshot. One
// pass at a time: the pass owns the daemon's state.
func (d *Daemon) Reconcile(ctx context.Context) error {
	start := d.deps.Clock.Now()
	defer func() { d.deps.Metrics.reconcileSeconds.Observe(d.deps.Clock.Now().Sub(start).Seconds()) }()

	var errs []error
	if err := d.fetchIfDue(ctx); err != nil {
		errs = append(errs, err)
	}
	if tree, commit := d.tree, d.appliedCommit; tree != nil {
		actions, err := d.step(ctx, tree, commit)
		if err != nil {
			errs = append(errs, err)
		}
		if err := d.apply(ctx, tree); err != nil {
			errs = append(errs, err)
		}
		d.act(ctx, tree, actions)
		d.retryPending(ctx, tree)
		d.closeStalePullRequests(ctx, tree, commit)
		d.reproposeOnNewHead(commit)
		d.retryNotes(ctx)
		d.persist()
	}
	// Only now, with the traffic applied: the snapshot shows what this
	// pass completed.
	d.updateGauges(d.publish())
	return errors.Join(errs...)
}

// fetchIfDue fetches the remote and adopts a new head when it is valid. A
// head that was rejected is judged again when the verdict notes changed
// since it was judged (a validation run again and passing, or a verdict
// that arrived late): its evidence may have changed without a commit.
func (d *Daemon) fetchIfDue(ctx context.Context) error {
	now := d.deps.Clock.Now()
	asked := d.fetchNow.Swap(false)
	if !asked && !d.nextFetch.IsZero() && now.Before(d.nextFetch) {
		return nil
	}
	head, err := d.deps.Repo.Fetch(ctx)
	d.nextFetch = now.Add(d.cfg.PollInterval)
	if err != nil {
		d.fetchErr = err.Error()
		d.deps.Metrics.fetchFailures.Inc()
		return fmt.Errorf("fetching the spec repository: %w", err)
	}
	d.fetchErr = ""
	d.lastFetch = now
	d.head = head
	judged := head == d.checked
	rejected := judged && head != d.appliedCommit
	prevNotes := d.notes
	d.deps.Metrics.lastFetch.Set(float64(now.Unix()))
	if judged && !rejected {
		return nil // an applied head is never judged again
	}
	notes, err := d.deps.Repo.NotesHead(ctx)
	if err != nil {
		// Unknown notes: a rejected head waits for the next fetch, and a
		// new head is judged by the notes the checker reads itself.
		notes = prevNotes
		err = fmt.Errorf("reading the verdict notes ref: %w", err)
	}
	if judged && notes == prevNotes {
		return err // rejected, and nothing it was judged by has changed
	}
	return errors.Join(err, d.judge(ctx, head, notes, judged))
}

// judge validates and policy-checks head, with the verdict notes at
// notes, and applies it when it passes. again says head was rejected
// before and is judged again because its notes changed.
func (d *Daemon) judge(ctx context.Context, head, notes string, again bool) error {
	if d.appliedCommit == "" && d.recovered != "" {
		d.recover(ctx)
		if head == d.appliedCommit {
			d.checked, d.notes = head, notes
			return nil // the head is what ran before the restart
		}
	}
	fsys, err := d.deps.Repo.Tree(ctx, head)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", commitid.Short(head), err)
	}
	base, applied := d.tree, d.appliedCommit
	if again {
		d.log.Info("judging the rejected head again: its verdict notes changed", "commit", head, "notes", notes)
	}
	tree, diags := d.deps.Check(ctx, head, fsys, base, applied)
	d.checked, d.notes = head, notes
	if diag.HasErrors(diags) || tree == nil {
		if !again && d.catchUp(ctx, head) {
			// The commit before the head is in force now. The engine steps
			// with it (a rollout it starts is its own), and the next pass
			// fetches at once and judges the head against it.
			d.checked = ""
			d.Trigger()
			return nil
		}
		n := 0
		for _, dg := range diags {
			if dg.Severity == diag.Error {
				n++
			}
		}
		d.headErr = fmt.Sprintf("commit %s is not applied: %d error(s) in validation or policy; the last good commit keeps running", commitid.Short(head), n)
		d.headDiags = diags
		own := d.judgedOwn(ctx, head, diags, true, again)
		if again {
			d.log.Warn("head still rejected", "commit", head, "errors", n)
		} else {
			d.deps.Metrics.rejectedHeads.Inc()
			d.log.Warn("head rejected", "commit", head, "errors", n)
			d.announceRejected(head, own+rejectionReason(diags))
		}
		for _, dg := range diags {
			d.log.Warn("diagnostic", "file", dg.File, "line", dg.Line, "severity", dg.Severity, "summary", dg.Summary, "detail", dg.Detail)
		}
		return nil
	}
	d.use(ctx, head, tree, again)
	return nil
}

// use makes commit, whose tree passed, the commit in force.
func (d *Daemon) use(ctx context.Context, commit string, tree *spec.Tree, again bool) {
	d.judgedOwn(ctx, commit, nil, false, again)
	d.tree, d.appliedCommit = tree, commit
	d.headErr, d.headDiags = "", nil
	if d.deps.Store != nil {
		if err := d.deps.Store.Save(appliedKey, []byte(commit)); err != nil {
			d.log.Warn("saving the commit in force", "commit", commit, "err", err)
		}
	}
	d.log.Info("applying commit", "commit", commit, "models", len(tree.Models), "judged_again", again)
}

// step runs the engine on every model and returns the actions to take.
func (d *Daemon) step(ctx context.Context, tree *spec.Tree, commit string) ([]rollout.Action, error) {
	now := d.deps.Clock.Now()
	var actions []rollout.Action
	var errs []error
	seen := map[string]bool{}
	acked, behind := d.acknowledged(), d.behind(ctx, tree)
	d.prefetch(ctx, tree, now)
	for _, m := range tree.Models {
		key := m.Key()
		seen[key] = true
		st, ok := d.state.Models[key]
		var obs rollout.Observations
		if d.deps.Measurer != nil && ok {
			// Partial observations still count: a broken source leaves
			// only its own checks without data.
			o, err := d.deps.Measurer.Observe(ctx, tree, m, st, now)
			obs = o
			if err != nil {
				errs = append(errs, fmt.Errorf("measuring %s: %w", key, err))
				d.setModelErr(key, err.Error())
			} else {
				d.setModelErr(key, "")
			}
		}
		obs.Unapplied = withBehind(d.unapplied(m, acked), behind[m.Router])
		next, route, acts := rollout.Step(m, commit, st, obs, now)
		d.noticeStep(tree, m, st, next, acts)
		d.hist.recordStep(key, next)
		d.state.Models[key] = next
		d.routes[key] = route
		actions = append(actions, acts...)
	}
	d.hist.forget(func(key string) bool { return seen[key] })
	for key := range d.state.Models {
		if !seen[key] {
			delete(d.state.Models, key)
			delete(d.routes, key)
			delete(d.saved, key)
			delete(d.shown, key)
			if d.deps.Store != nil {
				_ = d.deps.Store.Delete(key)
			}
		}
	}
	return actions, errors.Join(errs...)
}

func (d *Daemon) setModelErr(key, msg string) {
	if msg == "" {
		delete(d.modelErr, key)
		return
	}
	d.modelErr[key] = msg
}

// act carries out the engine's actions after traffic is applied.
func (d *Daemon) act(ctx context.Context, tree *spec.Tree, actions []rollout.Action) {
	for _, a := range actions {
		switch a := a.(type) {
		case rollout.Event:
			lvl := slog.LevelInfo
			switch a.Level {
			case rollout.LevelWarn:
				lvl = slog.LevelWarn
			case rollout.LevelError:
				lvl = slog.LevelError
			}
			d.log.Log(ctx, lvl, a.Message, "model", a.Model)
		case rollout.RecordVerdict:
			note, err := json.Marshal(a)
			if err != nil {
				d.log.Error("verdict not encodable", "err", err)
				continue
			}
			commit := a.Commit
			if commit == "" {
				commit = d.appliedCommit
			}
			d.note(ctx, commit, note, a.Model+"/"+a.Stage)
		case rollout.WriteCommit:
			m := findModel(tree, a.Model, a.Stage)
			if m == nil {
				continue
			}
			if a.File == "" {
				a.File = m.File
			}
			d.queue(&pending{out: a})
		}
	}
}

// queue adds a pending commit, replacing one queued for the same model.
func (d *Daemon) queue(p *pending) {
	for i, q := range d.pending {
		if q.out.Model == p.out.Model && q.out.Stage == p.out.Stage {
			d.pending[i] = p
			return
		}
	}
	d.pending = append(d.pending, p)
}

// retryPending writes the commits that are due; a failed write stays
// pending with backoff. Traffic is already restored for each of them.
func (d *Daemon) retryPending(ctx context.Context, tree *spec.Tree) {
	now := d.deps.Clock.Now()
	var keep []*pending
	for _, p := range d.pending {
		m := findModel(tree, p.out.Model, p.out.Stage)
		if m == nil || m.Serve != p.out.From {
			// Git moved on (a human committed a new intent, or our commit
			// already landed): nothing to write any more.
			d.announceOutcome(tree, p, "", "Git already moved on: no commit written")
			continue
		}
		if p.out.File == "" {
			p.out.File = m.File
		}
		if now.Before(p.nextTry) {
			keep = append(keep, p)
			continue
		}
		sha, err := d.deps.Repo.Write(ctx, p.out)
		if errors.Is(err, ErrSuperseded) {
			d.announceOutcome(tree, p, "", "superseded by a newer commit: no commit written")
			d.log.Info("outcome superseded by a newer commit; nothing written", "model", p.out.Model+"/"+p.out.Stage, "action", string(p.out.Kind))
			continue
		}
		if err != nil {
			p.attempts++
			p.lastErr = err.Error()
			p.nextTry = now.Add(d.backoff(p.attempts))
			d.deps.Metrics.pushFailures.Inc()
			d.log.Error("writing the outcome to Git failed; traffic stays restored, will retry",
				"model", p.out.Model+"/"+p.out.Stage, "action", string(p.out.Kind), "attempt", p.attempts, "err", err)
			d.announceOutcome(tree, p, "", "not in Git yet, retrying: "+err.Error())
			keep = append(keep, p)
			continue
		}
		d.announceOutcome(tree, p, sha, "")
		if p.again {
			d.log.Info("outcome proposed again on the new head", "model", p.out.Model+"/"+p.out.Stage, "action", string(p.out.Kind), "commit", sha)
		} else {
			d.deps.Metrics.commits.WithLabelValues(string(p.out.Kind)).Inc()
			d.log.Info("outcome committed", "model", p.out.Model+"/"+p.out.Stage, "action", string(p.out.Kind), "commit", sha)
		}
		d.lastByKey[p.out.Model+"/"+p.out.Stage] = sha
		d.nextFetch = time.Time{} // see our own commit at once
	}
	d.pending = keep
}

// backoff is how long to wait before the next try of a write that failed
// attempts times: PushBackoff, doubling, up to PushBackoffMax.
func (d *Daemon) backoff(attempts int) time.Duration {
	return min(d.cfg.PushBackoff<<min(attempts-1, 10), d.cfg.PushBackoffMax)
}

func findModel(t *spec.Tree, name, stage string) *spec.Model {
	for _, m := range t.Models {
		if m.Name == name && m.Stage == stage {
			return m
		}
	}
	return nil
}

// persist saves every model's state that changed since it was last saved.
func (d *Daemon) persist() {
	if d.deps.Store == nil {
		return
	}
	changed := map[string][]byte{}
	for k, v := range d.state.Models {
		b, err := json.Marshal(v)
		if err != nil {
			d.log.Error("state not encodable", "model", k, "err", err)
			continue
		}
		if d.saved[k] == string(b) {
			continue
		}
		d.saved[k] = string(b)
		changed[k] = b
	}
	d.saveStates(changed)
}
