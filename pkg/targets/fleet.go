package targets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// DefaultReplicaTimeout bounds one call to one replica of a fleet: a slow
// or dead replica never holds up the others, nor a restore.
const DefaultReplicaTimeout = 2 * time.Second

// Fleet applies one table to every replica of a builtin router fleet
// (`admin` listing several standalone routers behind one load balancer).
// Every replica gets the same table with the same generation number. Apply
// sends it to every replica that has not acknowledged it, all at once, and
// succeeds only when every replica has; the daemon retries a failed Apply
// on its next pass, and only the replicas still behind are sent it again.
// Resync gives the current table to a replica that restarted empty or came
// back stale.
type Fleet struct {
	name     string
	replicas []*replica
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger

	op sync.Mutex // one Apply or Resync at a time

	mu     sync.Mutex // guards below and every replica's state
	gen    uint64     // generation of routes
	routes []byte     // the current table's routes as JSON; nil before the first Apply
	seen   uint64     // the highest generation a replica was read holding
}

type replica struct {
	admin string
	rb    *RemoteBuiltin
	// guarded by Fleet.mu
	acked       uint64    // generation the replica acknowledged or was last read holding (0: none known)
	lastContact time.Time // last answer of any kind
	// heard: this fleet has had an answer from it. Before that its first
	// call is preceded by a check that it holds a numbered table.
	heard   bool
	lastErr string
	// lost is set when the replica was unreachable or found stale: it may
	// have restarted and lost its measurements. resyncedAt is when it was
	// next given the current table.
	lost       bool
	resyncedAt time.Time
	// servingSince is when the replica says it was first given a table
	// (traffic.ServingForHeader, read with its generation; zero if it does
	// not say): a replica that restarted and was given its table again by
	// another leader measured nothing before, though this fleet never saw
	// it stale.
	servingSince time.Time
}

// ReplicaStatus is one replica of a fleet as the status page shows it.
type ReplicaStatus = traffic.ReplicaStatus

// NewFleet returns the target of a fleet of standalone builtin routers,
// one per URL in r.Admins (or r.Admin alone), sharing r.TokenEnv.
func NewFleet(r *spec.Router, d Deps) (*Fleet, error) {
	admins := r.Admins
	if len(admins) == 0 && r.Admin != "" {
		admins = []string{r.Admin}
	}
	if len(admins) == 0 {
		return nil, fmt.Errorf("router %q: a fleet needs at least one admin URL", r.Name)
	}
	f := &Fleet{name: r.Name, timeout: d.ReplicaTimeout, now: d.Now, log: d.Logger}
	if f.timeout <= 0 {
		f.timeout = DefaultReplicaTimeout
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	// Each call to a replica is bounded by the replica timeout, not by
	// the client's own (a large table may need longer than it).
	if d.HTTPClient != nil {
		d.HTTPClient = &http.Client{Transport: d.HTTPClient.Transport}
	}
	for _, a := range admins {
		one := *r
		one.Admin, one.Admins = a, []string{a}
		rb, err := NewRemoteBuiltin(&one, d)
		if err != nil {
			return nil, err
		}
		f.replicas = append(f.replicas, &replica{admin: a, rb: rb})
	}
	return f, nil
}

// Capabilities of the builtin router: everything.
func (f *Fleet) Capabilities() Capabilities { return capsOf("builtin") }

// Apply gives t to every replica under a new generation (the same t again
// keeps its generation) and returns nil only when every replica has
// acknowledged it. The replicas are called concurrently, each bounded by
// the replica timeout, so a reachable replica has the table at once
// whatever the others do.
func (f *Fleet) Apply(ctx context.Context, t traffic.Table) error {
	f.op.Lock()
	defer f.op.Unlock()
	// The routes are encoded once: to compare with the current table and
	// as the body every replica is sent.
	routes, err := json.Marshal(t.Routes)
	if err != nil {
		return fmt.Errorf("router %q: encode routes: %w", f.name, err)
	}
	f.mu.Lock()
	if f.routes == nil || !bytes.Equal(f.routes, routes) {
		f.gen, f.routes = f.nextGen(), routes
	}
	f.mu.Unlock()
	return f.send(ctx, func(r *replica) bool { return r.acked != f.gen || r.lost })
}

// maxGeneration bounds the generations a fleet numbers: below 2^53 they
// are exact as JSON numbers everywhere (a browser reads them as doubles).
const maxGeneration = 1 << 53

// nextGen numbers a new table: above the fleet's last one, at least the
// clock's Unix milliseconds, and above the highest generation a replica
// was read holding. The caller holds f.mu.
//
// A fleet numbers its first table without reading the replicas'
// generations, so a new reconciler's (or a new leader's) first Apply,
// often a restore, waits for no replica: a hung one would hold such a read
// for the replica timeout. (Each replica's own first call checks whether
// it holds a table at all, see probe; no other replica waits for that.)
// The number it picks may equal, or be below, one a replica already holds
// with another table. That is harmless, because a generation read from a
// replica never by itself makes the replica count as holding the table:
//
//   - A replica counts as holding the current table (Apply and Resync do
//     not send it, Replicas shows it in sync, Measurable accepts it) only
//     while acked == gen and !lost.
//   - Every call that fails, and every read of a generation other than
//     gen, sets lost; only an acknowledged PUT of the current table (send)
//     clears it. So the acked of a replica not lost is 0 (never called),
//     or a generation this fleet numbered and the replica acknowledged or
//     was read holding while it was gen.
//   - Generations only grow (each new one is above gen), so right after a
//     new table no replica that is not lost has acked == gen: every one
//     is sent it, and counts as holding it only once its PUT succeeds.
//   - A replica whose PUT failed (it hung, was down, or the Apply was
//     cancelled) stays lost until a later PUT succeeds: a Resync that then
//     reads gen from it, by a 304 or a body, however it came to hold that
//     number, still sends it the table.
//
// Hence a replica counts as holding the table only if this fleet's PUT of
// it was acknowledged and every read since returned its generation. What
// is left is another writer putting a different table under the very same
// number afterwards: only a deposed leader writes to the same routers (its
// traffic changes are fenced), and it would have to number a table in the
// same millisecond. Time-derived numbers and the floor of what was read
// keep a new leader's generations above its predecessor's, so a replica's
// generation reads as behind or current the way one expects; correctness
// does not depend on it.
func (f *Fleet) nextGen() uint64 {
	g := f.gen + 1
	if ms := f.now().UnixMilli(); ms > 0 && uint64(ms) > g && ms < maxGeneration {
		g = uint64(ms)
	}
	if f.seen >= g && f.seen+1 < maxGeneration {
		g = f.seen + 1
	}
	return g
}

// Resync reads every replica's generation and gives the current table to
// each one that is behind (restarted empty, or back from a partition). It
// does nothing before the first Apply. The error names the replicas that
// could not be read or brought up to date.
func (f *Fleet) Resync(ctx context.Context) error {
	f.op.Lock()
	defer f.op.Unlock()
	f.mu.Lock()
	active := f.routes != nil
	f.mu.Unlock()
	if !active {
		return nil
	}
	f.mu.Lock()
	want := f.gen
	f.mu.Unlock()
	gens := f.each(ctx, f.replicas, func(ctx context.Context, r *replica) (uint64, error) {
		g, servedFor, err := r.rb.Generation(ctx, want)
		f.served(r, servedFor)
		return g, err
	})
	f.mu.Lock()
	var unread []string
	stale := map[*replica]bool{}
	for i, g := range gens {
		r := f.replicas[i]
		if g.err != nil {
			unread = append(unread, r.admin)
			continue
		}
		r.acked = g.gen
		f.seen = max(f.seen, g.gen)
		if g.gen != f.gen {
			f.log.Warn("router replica is stale (restarted empty or back from a partition): giving it the current table",
				"router", f.name, "replica", r.admin, "generation", g.gen, "want", f.gen)
			r.lost = true
		}
		// A replica back after being unreadable is given the table again
		// too: that marks when its measurements are whole again. So is one
		// whose PUT of this generation was never acknowledged, whatever
		// generation it shows (see nextGen).
		stale[r] = r.lost
	}
	f.mu.Unlock()
	err := f.send(ctx, func(r *replica) bool { return stale[r] })
	if len(unread) > 0 {
		err = errors.Join(err, fmt.Errorf("router %q: replicas not readable: %s", f.name, strings.Join(unread, ", ")))
	}
	return err
}

// send PUTs the current table to the replicas that need it, concurrently.
// The caller holds f.op.
func (f *Fleet) send(ctx context.Context, need func(*replica) bool) error {
	f.mu.Lock()
	gen := f.gen
	// {"generation":N,"routes":[...]}, as traffic.Table encodes.
	body := append(append(append([]byte(`{"generation":`), strconv.FormatUint(gen, 10)...), `,"routes":`...), f.routes...)
	body = append(body, '}')
	var todo []*replica
	probe := map[*replica]bool{}
	for _, r := range f.replicas {
		if need(r) {
			todo = append(todo, r)
			probe[r] = !r.heard && !r.lost
		}
	}
	f.mu.Unlock()
	res := f.each(ctx, todo, func(ctx context.Context, r *replica) (uint64, error) {
		if probe[r] {
			if err := f.probe(ctx, r); err != nil {
				return 0, err
			}
		}
		return gen, r.rb.put(ctx, body)
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	var bad []string
	var errs []error
	for i, g := range res {
		r := todo[i]
		if g.err != nil {
			bad = append(bad, r.admin)
			errs = append(errs, g.err)
			continue
		}
		if r.lost {
			f.log.Info("router replica has the current table again", "router", f.name, "replica", r.admin, "generation", gen)
			r.lost, r.resyncedAt = false, f.now()
		}
		r.acked = gen
	}
	if len(bad) > 0 {
		return fmt.Errorf("router %q: %d of %d replicas have not acknowledged table generation %d (%s): %w",
			f.name, len(bad), len(f.replicas), gen, strings.Join(bad, ", "), errors.Join(errs...))
	}
	return nil
}

// probe precedes the first call this fleet makes to a replica (its first
// table after the reconciler starts or becomes leader), within the same
// replica timeout: a replica holding no numbered table restarted empty, or
// is new, and has not measured the windows in progress. It is marked lost,
// so that its PUT marks when its measurements are whole again, as a
// resync does. Only the replica's own call waits for its probe: a hung
// one holds no other replica's table, and is not also sent the table (it
// would hang twice); the next pass sends it.
func (f *Fleet) probe(ctx context.Context, r *replica) error {
	numbered, servedFor, err := r.rb.numbered(ctx)
	f.served(r, servedFor)
	if err != nil || numbered {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !r.lost {
		f.log.Warn("router replica holds no numbered table (restarted empty, or new): giving it the current table; windows before now are no data",
			"router", f.name, "replica", r.admin)
		r.lost = true
	}
	return nil
}

// served records how long the replica says it has held a table (negative:
// it did not say). Counted back from now, after its answer: never earlier
// than the truth, and no clock of the replica's is needed.
func (f *Fleet) served(r *replica, servedFor time.Duration) {
	if servedFor < 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r.servingSince = f.now().Add(-servedFor)
}

type genResult struct {
	gen uint64
	err error
}

// each calls fn on every replica at once, each call bounded by the replica
// timeout, and records the contact.
func (f *Fleet) each(ctx context.Context, rs []*replica, fn func(context.Context, *replica) (uint64, error)) []genResult {
	out := make([]genResult, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			g, err := fn(cctx, r)
			out[i] = genResult{gen: g, err: err}
			f.mu.Lock()
			if err == nil {
				r.lastContact, r.lastErr, r.heard = f.now(), "", true
			} else {
				r.lastErr, r.lost = err.Error(), true
			}
			f.mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Measurable says whether a window starting at from can be measured: every
// replica holds the current table and has held it since before from (a
// replica that was unreachable or stale may have restarted and lost its
// measurements). An error names the replica, and the window is "no data".
func (f *Fleet) Measurable(from time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.replicas {
		switch {
		case r.lost:
			return fmt.Errorf("router %q: replica %s is unreadable or stale (generation %d, want %d): %s", f.name, r.admin, r.acked, f.gen, r.lastErr)
		case f.routes != nil && r.acked != f.gen:
			return fmt.Errorf("router %q: replica %s has not acknowledged table generation %d (it has %d)", f.name, r.admin, f.gen, r.acked)
		case r.resyncedAt.After(from):
			return fmt.Errorf("router %q: replica %s was given the table again at %s, inside the window from %s: its measurements are incomplete",
				f.name, r.admin, r.resyncedAt.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
		case r.servingSince.After(from):
			return fmt.Errorf("router %q: replica %s has held a table only since %s (it restarted), inside the window from %s: its measurements are incomplete",
				f.name, r.admin, r.servingSince.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Admins lists the replicas' admin URLs, in the order of the spec.
func (f *Fleet) Admins() []string {
	out := make([]string, len(f.replicas))
	for i, r := range f.replicas {
		out[i] = r.admin
	}
	return out
}

// Replicas reports every replica's generation, last contact and last
// error.
func (f *Fleet) Replicas() []ReplicaStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ReplicaStatus, 0, len(f.replicas))
	for _, r := range f.replicas {
		out = append(out, ReplicaStatus{Admin: r.admin, Generation: r.acked, Want: f.gen,
			InSync: f.routes != nil && r.acked == f.gen && !r.lost, LastContact: r.lastContact, LastError: r.lastErr})
	}
	return out
}

// Generation reads the generation of the router's live table (GET
// /v1/routes) and how long the router has held a table (negative: it does
// not say). have is the generation the caller expects: the router answers
// 304 without the table while it still holds it (a router without ETags
// sends the table, and only its generation is decoded).
func (rb *RemoteBuiltin) Generation(ctx context.Context, have uint64) (uint64, time.Duration, error) {
	inm := ""
	if have > 0 {
		inm = `"` + strconv.FormatUint(have, 10) + `"`
	}
	gen, unchanged, servedFor, err := rb.generation(ctx, inm)
	if unchanged {
		return have, servedFor, nil
	}
	return gen, servedFor, err
}

// numbered says whether the router holds a numbered table, one a fleet
// gave it (a 304 to `If-None-Match: *`), rather than none at all (it
// restarted empty, or is new), and how long it has held a table.
func (rb *RemoteBuiltin) numbered(ctx context.Context) (bool, time.Duration, error) {
	gen, unchanged, servedFor, err := rb.generation(ctx, "*")
	return unchanged || gen > 0, servedFor, err
}

// generation reads the live table's generation, sending ifNoneMatch if
// any; unchanged is a 304 (no generation decoded). servedFor is how long
// the router has held a table, negative when it does not say.
func (rb *RemoteBuiltin) generation(ctx context.Context, ifNoneMatch string) (gen uint64, unchanged bool, servedFor time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rb.routes, nil)
	if err != nil {
		return 0, false, -1, fmt.Errorf("router %q: %w", rb.name, err)
	}
	if rb.token != "" {
		req.Header.Set("Authorization", "Bearer "+rb.token)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := rb.client.Do(req)
	if err != nil {
		return 0, false, -1, fmt.Errorf("router %q: GET %s: %w", rb.name, rb.routes, err)
	}
	defer resp.Body.Close()
	servedFor = -1
	if v, err := strconv.ParseFloat(resp.Header.Get(traffic.ServingForHeader), 64); err == nil && v >= 0 && v < 1e9 {
		servedFor = time.Duration(v * float64(time.Second))
	}
	if resp.StatusCode == http.StatusNotModified && ifNoneMatch != "" {
		return 0, true, servedFor, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, false, -1, fmt.Errorf("router %q: GET %s: %w", rb.name, rb.routes, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, false, -1, rb.answerError(http.MethodGet, resp, body[:min(len(body), 512)])
	}
	var t struct {
		Generation uint64 `json:"generation"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return 0, false, -1, fmt.Errorf("router %q: GET %s: %w", rb.name, rb.routes, err)
	}
	return t.Generation, false, servedFor, nil
}
