// Package notify delivers the reconciler's events to the notify blocks of
// the spec (SPEC.md §9): signed JSON webhooks and Slack incoming-webhook
// messages, from a bounded queue per destination, retried with backoff,
// without ever blocking the caller.
package notify

import (
	"bytes"
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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/wait"
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
	// DeliveryHeader identifies a delivery: the same on every retry of
	// it, so that a receiver can drop a repeat.
	DeliveryHeader = "X-Switchyard-Delivery"
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

// Deps are the dispatcher's connections to the outside world.
type Deps struct {
	HTTP *http.Client
	// Getenv reads a notify block's secret_env.
	Getenv  func(string) string
	Sleep   Sleeper
	Logger  *slog.Logger
	Metrics *Metrics
	// Sinks receive every event besides the notify blocks that want it
	// (the GitHub deployment statuses), each from its own queue.
	Sinks []Sink
}

// Sink is a destination of events: a notify block, or one the reconciler
// configures itself.
type Sink interface {
	// Type labels the sink in metrics ("webhook", "slack", "github").
	Type() string
	// Label names the sink in logs; it must not hold a secret.
	Label() string
	// Wants reports whether the sink takes the event.
	Wants(event string) bool
	// Deliver makes one attempt. retry says whether another attempt may
	// succeed (a network error, a 5xx) when err is not nil.
	Deliver(ctx context.Context, ev Event) (retry bool, err error)
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

// dest is one destination with its waiting events.
type dest struct {
	sink  Sink
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
		deps.Sleep = wait.Sleep
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	return &Dispatcher{cfg: cfg, deps: deps, wake: make(chan struct{}, 1), dests: map[string]*dest{}}
}

// Notify queues ev for every block that wants it, and for every sink of
// Deps.Sinks that wants it. It never blocks: a full queue drops its
// oldest event.
func (d *Dispatcher) Notify(blocks map[string]*spec.Notify, ev Event) {
	names := make([]string, 0, len(blocks))
	for n, b := range blocks {
		if b != nil && b.Wants(ev.Event) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	queued := false
	d.mu.Lock()
	for _, n := range names {
		b := blocks[n]
		d.enqueue("block\x00"+b.Type+"\x00"+b.URL+"\x00"+b.SecretEnv, &hook{b: *b, d: d}, ev)
		queued = true
	}
	for i, s := range d.deps.Sinks {
		if s.Wants(ev.Event) {
			d.enqueue("sink\x00"+strconv.Itoa(i), s, ev)
			queued = true
		}
	}
	d.mu.Unlock()
	if !queued {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// enqueue adds ev to the queue of the destination key, delivered by s
// (the newest settings of a block). d.mu is held.
func (d *Dispatcher) enqueue(key string, s Sink, ev Event) {
	ds := d.dests[key]
	if ds == nil {
		ds = &dest{}
		d.dests[key] = ds
	}
	ds.sink = s
	if len(ds.items) >= d.cfg.QueueSize {
		old := ds.items[0]
		ds.items = append(ds.items[:0], ds.items[1:]...)
		d.deps.Logger.Error("notification dropped: the queue is full", "to", s.Label(),
			"event", old.Event, "model", old.Model+"/"+old.Stage, "commit", old.Commit)
		d.deps.Metrics.results.WithLabelValues(s.Type(), "dropped").Inc()
	}
	ds.items = append(ds.items, ev)
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
		s := ds.sink
		d.mu.Unlock()
		d.deliver(ctx, s, ev)
	}
}

// deliver hands ev to s, retrying with backoff, and logs and counts the
// result.
func (d *Dispatcher) deliver(ctx context.Context, s Sink, ev Event) {
	log := d.deps.Logger.With("to", s.Label(), "event", ev.Event, "model", ev.Model+"/"+ev.Stage)
	backoff := d.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := s.Deliver(ctx, ev)
		if err == nil {
			log.Debug("notification delivered", "attempt", attempt)
			d.deps.Metrics.results.WithLabelValues(s.Type(), "delivered").Inc()
			return
		}
		if !retry || attempt >= d.cfg.Attempts || ctx.Err() != nil {
			log.Error("notification failed", "attempts", attempt, "err", err)
			d.deps.Metrics.results.WithLabelValues(s.Type(), "failed").Inc()
			return
		}
		log.Warn("notification attempt failed; retrying", "attempt", attempt, "in", backoff, "err", err)
		d.deps.Metrics.results.WithLabelValues(s.Type(), "retried").Inc()
		if d.deps.Sleep(ctx, backoff) != nil {
			log.Error("notification abandoned: shutting down", "attempts", attempt)
			d.deps.Metrics.results.WithLabelValues(s.Type(), "failed").Inc()
			return
		}
		backoff = min(backoff*2, d.cfg.MaxBackoff)
	}
}

// hook is a notify block as a Sink: a webhook or a Slack message.
type hook struct {
	b spec.Notify
	d *Dispatcher
}

func (h *hook) Type() string { return h.b.Type }
func (h *hook) Label() string {
	return fmt.Sprintf("notify %q (%s to %s)", h.b.Name, h.b.Type, host(h.b.URL))
}
func (h *hook) Wants(event string) bool { return h.b.Wants(event) }

func (h *hook) Deliver(ctx context.Context, ev Event) (bool, error) {
	body, err := Body(h.b.Type, ev)
	if err != nil {
		return false, err
	}
	var secret string
	if h.b.Type == "webhook" && h.b.SecretEnv != "" {
		if secret = h.d.deps.Getenv(h.b.SecretEnv); secret == "" {
			return false, fmt.Errorf("secret_env %s is empty or unset: not sending an unsigned delivery", h.b.SecretEnv)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.b.URL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchyard-reconciler")
	if h.b.Type == "webhook" {
		req.Header.Set(EventHeader, ev.Event)
		sum := sha256.Sum256(body)
		req.Header.Set(DeliveryHeader, hex.EncodeToString(sum[:16]))
		if secret != "" {
			req.Header.Set(SignatureHeader, Sign([]byte(secret), body))
		}
	}
	resp, err := h.d.deps.HTTP.Do(req)
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
	return Retryable(resp.StatusCode), errors.New("answered " + strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode))
}

// Retryable reports whether an HTTP error status may go away by itself:
// a timeout, rate limiting, or a server error.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// host is the host of a URL, for logs (the rest may be a secret).
func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
