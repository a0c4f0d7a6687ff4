// Package notify delivers the reconciler's events to the notify blocks of
// the spec (SPEC.md §9): signed JSON webhooks and Slack incoming-webhook
// messages, from a bounded queue per destination, retried with backoff,
// without ever blocking the caller.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// Event is one thing the reconciler did, as a webhook receives it.
type Event struct {
	Event string `json:"event"` // one of spec.NotifyEvents
	Model string `json:"model"`
	Stage string `json:"stage"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Reason is the measured explanation (a check's values, the
	// validation errors of a rejected head).
	Reason string `json:"reason"`
	// Commit is the commit the event is about: the revert (or other
	// outcome commit) written, the commit rolled out, the head rejected.
	Commit string    `json:"commit"`
	At     time.Time `json:"at"`
}

// Header names of a delivery.
const (
	SignatureHeader = "X-Switchyard-Signature-256"
	EventHeader     = "X-Switchyard-Event"
)

// Sign is the signature header's value for body: "sha256=" and the hex
// HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature (the header's value) signs body under
// secret, in constant time. Receivers written in Go can use it.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// Config tunes deliveries. Zero values take the defaults.
type Config struct {
	// QueueSize is the most events waiting per destination (default 100).
	// When full, the oldest waiting event is dropped (and counted): the
	// newest say what is live now.
	QueueSize int
	// Attempts is the most deliveries tried per event (default 6).
	Attempts int
	// Backoff is the wait before the first retry (default 1s); it doubles
	// up to MaxBackoff (default 1m).
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Sleeper waits d or until ctx ends (then it returns ctx's error).
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep is the real Sleeper.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Deps are the dispatcher's connections to the outside world.
type Deps struct {
	HTTP *http.Client
	// Getenv reads a notify block's secret_env.
	Getenv  func(string) string
	Sleep   Sleeper
	Logger  *slog.Logger
	Metrics *Metrics
}

// Metrics count deliveries.
type Metrics struct {
	results *prometheus.CounterVec
}

// NewMetrics registers switchyard_notifications_total{type, result} on
// reg, result being delivered, retried, failed or dropped.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{results: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_notifications_total",
		Help: "Notification deliveries by notify type and result: delivered, retried (a failed attempt retried later), failed (given up) or dropped (queue full).",
	}, []string{"type", "result"})}
	if reg != nil {
		reg.MustRegister(m.results)
	}
	return m
}

// Dispatcher queues events per destination and delivers them. Send never
// blocks; Run delivers.
type Dispatcher struct {
	cfg  Config
	deps Deps

	wake chan struct{}

	mu    sync.Mutex // guards dests
	dests map[string]*dest
}

// dest is one destination (type, url, secret) with its waiting events.
type dest struct {
	block spec.Notify
	items []Event
	busy  bool // a goroutine is draining it
}

// New makes a dispatcher; nothing is delivered until Run.
func New(cfg Config, deps Deps) *Dispatcher {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 100
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 6
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if deps.Getenv == nil {
		deps.Getenv = func(string) string { return "" }
	}
	if deps.Sleep == nil {
		deps.Sleep = Sleep
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	return &Dispatcher{cfg: cfg, deps: deps, wake: make(chan struct{}, 1), dests: map[string]*dest{}}
}

// Notify queues ev for every block that wants it. It never blocks: a
// full queue drops its oldest event.
func (d *Dispatcher) Notify(blocks map[string]*spec.Notify, ev Event) {
	names := make([]string, 0, len(blocks))
	for n, b := range blocks {
		if b != nil && b.Wants(ev.Event) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	d.mu.Lock()
	for _, n := range names {
		b := blocks[n]
		key := b.Type + "\x00" + b.URL + "\x00" + b.SecretEnv
		ds := d.dests[key]
		if ds == nil {
			ds = &dest{}
			d.dests[key] = ds
		}
		ds.block = *b
		if len(ds.items) >= d.cfg.QueueSize {
			old := ds.items[0]
			ds.items = append(ds.items[:0], ds.items[1:]...)
			d.deps.Logger.Error("notification dropped: the queue is full", "notify", b.Name,
				"event", old.Event, "model", old.Model+"/"+old.Stage, "commit", old.Commit)
			d.deps.Metrics.results.WithLabelValues(b.Type, "dropped").Inc()
		}
		ds.items = append(ds.items, ev)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers queued events until ctx ends; events still queued then
// are not delivered.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		d.mu.Lock()
		for _, ds := range d.dests {
			if !ds.busy && len(ds.items) > 0 {
				ds.busy = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					d.drain(ctx, ds)
				}()
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
	}
}

// drain delivers ds's events in order, one at a time, until none is left.
func (d *Dispatcher) drain(ctx context.Context, ds *dest) {
	for {
		d.mu.Lock()
		if len(ds.items) == 0 || ctx.Err() != nil {
			ds.busy = false
			if len(ds.items) == 0 {
				for k, v := range d.dests {
					if v == ds {
						delete(d.dests, k)
					}
				}
			}
			d.mu.Unlock()
			return
		}
		ev := ds.items[0]
		ds.items = ds.items[1:]
		b := ds.block
		d.mu.Unlock()
		d.deliver(ctx, b, ev)
	}
}

// deliver posts ev to b, retrying with backoff, and logs and counts the
// result.
func (d *Dispatcher) deliver(ctx context.Context, b spec.Notify, ev Event) {
	log := d.deps.Logger.With("notify", b.Name, "type", b.Type, "host", host(b.URL),
		"event", ev.Event, "model", ev.Model+"/"+ev.Stage)
	body, err := Body(b.Type, ev)
	var secret string
	if err == nil && b.Type == "webhook" && b.SecretEnv != "" {
		if secret = d.deps.Getenv(b.SecretEnv); secret == "" {
			err = fmt.Errorf("secret_env %s is empty or unset: not sending an unsigned delivery", b.SecretEnv)
		}
	}
	if err != nil {
		log.Error("notification failed", "err", err)
		d.deps.Metrics.results.WithLabelValues(b.Type, "failed").Inc()
		return
	}
	backoff := d.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := d.post(ctx, b, body, secret, ev.Event)
		if err == nil {
			log.Debug("notification delivered", "attempt", attempt)
			d.deps.Metrics.results.WithLabelValues(b.Type, "delivered").Inc()
			return
		}
		if !retry || attempt >= d.cfg.Attempts || ctx.Err() != nil {
			log.Error("notification failed", "attempts", attempt, "err", err)
			d.deps.Metrics.results.WithLabelValues(b.Type, "failed").Inc()
			return
		}
		log.Warn("notification attempt failed; retrying", "attempt", attempt, "in", backoff, "err", err)
		d.deps.Metrics.results.WithLabelValues(b.Type, "retried").Inc()
		if d.deps.Sleep(ctx, backoff) != nil {
			log.Error("notification abandoned: shutting down", "attempts", attempt)
			d.deps.Metrics.results.WithLabelValues(b.Type, "failed").Inc()
			return
		}
		backoff = min(backoff*2, d.cfg.MaxBackoff)
	}
}

// post makes one attempt. retry says whether another attempt may succeed
// (a network error, 429 or a 5xx); other 4xx answers are final.
func (d *Dispatcher) post(ctx context.Context, b spec.Notify, body []byte, secret, event string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, strings.NewReader(string(body)))
	if err != nil {
		return false, errors.New("invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchyard-reconciler")
	if b.Type == "webhook" {
		req.Header.Set(EventHeader, event)
		if secret != "" {
			req.Header.Set(SignatureHeader, Sign([]byte(secret), body))
		}
	}
	resp, err := d.deps.HTTP.Do(req)
	if err != nil {
		// The URL may hold a secret (Slack's do): never log it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = errors.New("answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode))
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout, err
}

// host is the host of a URL, for logs (the rest may be a secret).
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
