package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is the router's HTTP/1.1 client for http:// backends: a
// stack of keep-alive connections per host, each request written and its
// answer read in the caller's goroutine. http.Transport hands every
// request to two goroutines per connection (its read and write loops);
// doing without them is about 20% more requests per second on two cores.
// It serves net/http's requests (RoundTrip; https:// goes through a
// standard http.Transport) and requests written by hand (Send).
//
// A connection is reused only when provably clean (pool.go): its last
// answer read to its framed end, nothing buffered, and a non-blocking
// read before every reuse finding nothing arriving. One that dies before
// answering all the same is retried on a new connection only under the
// retry rule (retry.go).
type Transport struct {
	dialer        net.Dialer
	headerTimeout time.Duration // 0: none
	// wholeTimeout, when set, bounds the whole exchange, body included
	// (the shadow's transport), instead of the header alone.
	wholeTimeout time.Duration
	idleTimeout  time.Duration
	maxIdle      int // per host
	now          func() time.Time
	tls          *http.Transport

	mu        sync.Mutex
	idle      map[string][]*Conn
	lastSweep time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport that waits headerTimeout for an
// answer's head (0: no limit) or, with wholeTimeout, bounds each whole
// exchange instead; https:// requests go to tls.
func NewTransport(headerTimeout, wholeTimeout time.Duration, tls *http.Transport) *Transport {
	return &Transport{
		dialer:        net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		headerTimeout: headerTimeout,
		wholeTimeout:  wholeTimeout,
		idleTimeout:   90 * time.Second,
		maxIdle:       1024,
		now:           time.Now,
		tls:           tls,
		idle:          map[string][]*Conn{},
	}
}

// earlyAnswerWait is how long an answer is awaited after the request could
// not be written whole.
const earlyAnswerWait = time.Second

// beforeWrite arms c's deadline for the whole exchange, when it has one
// (the shadow's transport).
func (t *Transport) beforeWrite(c *Conn) {
	c.liftRead = false
	if t.wholeTimeout > 0 {
		c.dl.Both(c.Raw, time.Now(), t.wholeTimeout)
	}
}

// awaitAnswer arms c's deadline for reading an answer's head after the
// request was written (writeErr: not whole).
func (t *Transport) awaitAnswer(c *Conn, writeErr error) {
	switch {
	case writeErr != nil:
		// The backend may have answered before reading the whole body
		// (413, say) and closed: its answer is read all the same.
		c.dl.Exactly(c.Raw, time.Now().Add(earlyAnswerWait))
	case t.wholeTimeout > 0:
	case t.headerTimeout > 0:
		c.dl.Read(c.Raw, time.Now(), t.headerTimeout)
	}
}

// answered lifts the head's deadline once the head is read (before the
// body's first read, connReader); the whole exchange's stays.
func (t *Transport) answered(c *Conn, writeErr error) {
	switch {
	case writeErr != nil:
		c.dl.Exactly(c.Raw, time.Time{})
	case t.headerTimeout > 0 && t.wholeTimeout == 0:
		c.liftRead = true
	}
}

// errUnaskedSwitch: a 101 answer to a request that asked for no upgrade
// is the backend's failure (a 502), never passed on.
var errUnaskedSwitch = errors.New("the backend switched protocols, which was not asked for")

// errBadStatus: net/http reads a status code of three digits below 100,
// which is no HTTP status; it is the backend's failure (a 502), not an
// interim answer to skip.
var errBadStatus = errors.New("the backend's answer has a status code below 100")

// InterimOrFailed sorts a status code net/http read: skip is an interim
// answer (1xx) to read past; err a status no answer may have (below 100,
// or a 101 the request did not ask for).
func InterimOrFailed(code int, upgrade bool) (skip bool, err error) {
	switch {
	case code < 100:
		return false, errBadStatus
	case code == http.StatusSwitchingProtocols && !upgrade:
		return false, errUnaskedSwitch
	case code == http.StatusSwitchingProtocols:
		return false, nil
	}
	return code < 200, nil
}

// readHead reads the head of the answer on br, past interim answers.
// It is the one place that decides whether an answer's head is read by
// hand or by net/http: a plain head (Answer.Parse takes it) that byHand
// accepts is parsed into a, left buffered (a.N bytes), and no response is
// returned; any other head net/http reads (with req, or a request of
// method when req is nil; byHand nil: every head), and conflict reports a
// Content-Length beside a Transfer-Encoding or a second one (net/http
// hides both). A failure before any byte of an answer on a reused
// connection is ErrStale; once a byte arrived (a head net/http refuses,
// an interim answer) it never is. Otherwise a read error after a failed
// write is the write's.
func readHead(br *bufio.Reader, a *Answer, req *http.Request, method []byte, byHand func(*Answer) bool, reused bool, writeErr error) (resp *http.Response, conflict bool, err error) {
	upgrade := req != nil && AsksUpgrade(req.Header)
	nothingYet := reused
	for {
		n, ok, err := FindHead(br)
		if err != nil {
			return nil, false, readFailed(err, br, nothingYet, writeErr)
		}
		nothingYet = false // FindHead saw bytes of an answer
		head, _ := br.Peek(n)
		if byHand != nil && ok && a.Parse(head, string(method) == "HEAD") && byHand(a) {
			if skip, err := InterimOrFailed(a.Status, false); err != nil {
				return nil, false, err
			} else if skip {
				_, _ = br.Discard(n)
				continue
			}
			a.N = n
			a.Close = a.Close || writeErr != nil
			return nil, false, nil
		}
		// Not a plain head (or larger than the buffer): net/http reads it.
		conflict = !ok || framingConflict(head)
		if req == nil {
			req = &http.Request{Method: string(method)}
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, false, readFailed(err, br, false, writeErr)
		}
		if skip, err := InterimOrFailed(resp.StatusCode, upgrade); err != nil {
			return nil, false, err
		} else if !skip {
			return resp, conflict, nil
		}
	}
}

// readFailed is why reading an answer's head failed with err: ErrStale
// (joined to err) for a reused connection that died before any byte of
// an answer, otherwise the failed write of the request (writeErr) if any,
// or err.
func readFailed(err error, br *bufio.Reader, reused bool, writeErr error) error {
	if staleErr := stale(err, reused, br); staleErr != nil {
		return staleErr
	}
	if writeErr != nil {
		return writeErr
	}
	return err
}

// anyPlain: Send reads every plain answer head by hand.
func anyPlain(*Answer) bool { return true }

// ReadAnswerHead reads the head of the answer on br to a request of
// method, past interim answers, for a client with connections of its own
// (the shadow's pipeliner): a plain head that byHand accepts is parsed
// into a and consumed, and no response is returned; any other head
// net/http reads. On a reused connection, a failure before any byte of
// the answer is ErrStale.
func ReadAnswerHead(br *bufio.Reader, a *Answer, method []byte, byHand func(*Answer) bool, reused bool) (*http.Response, error) {
	resp, _, err := readHead(br, a, nil, method, byHand, reused, nil)
	if err == nil && resp == nil {
		_, _ = br.Discard(a.N)
		a.N = 0
	}
	return resp, err
}

// Outgoing is a request written by hand (Send), and its answer's head.
type Outgoing struct {
	Head, Body     []byte // the request as written
	Method         []byte
	IdempotencyKey bool
	// Watch, when set, watches the client while the request waits on
	// the backend.
	Watch Watcher

	Conn   *Conn          // the connection the answer is on
	Answer Answer         // the answer's head, parsed, when Std is nil
	Std    *http.Response // an answer head net/http read (not plain)
}

// Watcher watches a client while its request waits on backend
// connection c: when the client leaves, it closes c, which ends the
// backend's work, and Gone says so afterwards.
type Watcher interface {
	Watch(c *Conn)
	Unwatch()
	Gone() bool
}

// ErrClientGone: the client closed its connection while its request was
// with the backend.
var ErrClientGone = errors.New("the client went away before the answer")

func (o *Outgoing) gone() bool { return o.Watch != nil && o.Watch.Gone() }

// Send writes o on a clean pooled connection to host (or a new one) and
// reads its answer's head, skipping interim 1xx answers. A reused
// connection that dies before answering is tried again on a new one only
// under the retry rule; otherwise the error stands (a 502), as the
// backend may have the request already. After a nil error, the answer is
// on o.Conn, to be ended by Release (or o.Conn closed).
func (t *Transport) Send(host string, o *Outgoing) error {
	for c := t.get(host); c != nil; c = t.get(host) {
		clean, err := t.send(c, o, true)
		if !clean {
			c.Raw.Close()
			continue
		}
		if !retryOnNew(err, o.Method, o.IdempotencyKey) || o.gone() {
			return err
		}
		break
	}
	c, err := t.dial(context.Background(), host)
	if err != nil {
		return err
	}
	_, err = t.send(c, o, false)
	return err
}

// send writes o on c, a reused connection only when it is provably clean
// (clean false: o was not written, c is to be closed), and reads the
// answer's head.
func (t *Transport) send(c *Conn, o *Outgoing, reused bool) (clean bool, err error) {
	o.Conn, o.Std = c, nil
	if o.Watch != nil {
		o.Watch.Watch(c)
		defer o.Watch.Unwatch()
	}
	c.t, c.out, c.writeErr = t, o, nil
	written := true
	if !reused {
		_ = c.writeOut()
	} else {
		written = c.writeIfClean(c.writeOutFn)
	}
	c.out = nil
	if !written {
		return false, nil
	}
	writeErr := c.writeErr
	resp, _, err := readHead(c.R, &o.Answer, nil, o.Method, anyPlain, reused, writeErr)
	if err != nil {
		c.Raw.Close()
		if o.gone() {
			return true, ErrClientGone
		}
		return true, err
	}
	t.answered(c, writeErr)
	o.Std = resp
	return true, nil
}

// writeOut writes c.out, the request being sent, and arms the deadline
// for its answer.
func (c *Conn) writeOut() error {
	o := c.out
	c.t.beforeWrite(c)
	c.W.Write(o.Head)
	c.W.Write(o.Body)
	c.writeErr = c.W.Flush()
	c.t.awaitAnswer(c, c.writeErr)
	return c.writeErr
}

// Release ends an answer read by hand: it discards the head and pools
// the connection when the answer was read to its framed end (done) and
// may be reused; a 5xx answer that is not relayed is drained when it is
// all buffered. Anything else closes the connection.
func (t *Transport) Release(host string, o *Outgoing, done bool) {
	h, c := &o.Answer, o.Conn
	if h.N > 0 {
		_, _ = c.R.Discard(h.N)
		h.N = 0
	}
	if !done && h.Framing == FramingLength && int64(c.R.Buffered()) >= h.Length {
		_, _ = c.R.Discard(int(h.Length))
		done = true
	} else if !done && h.Framing == FramingNone && !h.Close {
		done = true
	}
	t.putIfClean(host, c, done && !h.Close && !h.Unsure && h.Framing != FramingClose)
}

// RoundTrip sends a net/http request, retrying it on a new connection
// under the retry rule.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.tls.RoundTrip(req)
	}
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	for c := t.get(host); c != nil; c = t.get(host) {
		resp, clean, err := t.exchange(ctx, host, c, req, true)
		if !clean {
			c.Raw.Close()
			continue
		}
		if !retryOnNew(err, []byte(req.Method), HasIdempotencyKey(req.Header)) || !rewindable(req) {
			return resp, err
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		break
	}
	c, err := t.dial(ctx, host)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, _, err := t.exchange(ctx, host, c, req, false)
	return resp, err
}

// rewindable: req's body is absent or can be had again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// exchange writes req on c, a reused connection only when it is provably
// clean (clean false: req was not written, c is to be closed), and reads
// the answer's header. The connection belongs to the answer's body until
// it is read to the end (then it is pooled) or closed early (then it is
// closed).
func (t *Transport) exchange(ctx context.Context, host string, c *Conn, req *http.Request, reused bool) (resp *http.Response, clean bool, err error) {
	stop := context.AfterFunc(ctx, func() { c.Raw.Close() })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		c.Raw.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, true, ctxErr
		}
		return nil, true, err
	}
	var writeErr error
	write := func() error {
		t.beforeWrite(c)
		if writeErr = req.Write(c.W); writeErr == nil {
			writeErr = c.W.Flush()
		}
		t.awaitAnswer(c, writeErr)
		return writeErr
	}
	if !reused {
		_ = write()
	} else if !c.writeIfClean(write) {
		stop()
		return nil, false, nil
	}
	if writeErr != nil && ctx.Err() != nil {
		return fail(writeErr)
	}
	resp, conflict, err := readHead(c.R, nil, req, nil, nil, reused, writeErr)
	if err != nil {
		return fail(err)
	}
	t.answered(c, writeErr)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop()
		resp.Body = &upgradedConn{Reader: c.R, c: c.Raw}
		return resp, true, nil
	}
	keep := !resp.Close && !req.Close && writeErr == nil && !unsureEnd(resp) && !conflict
	resp.Body = &pooledBody{r: resp.Body, t: t, host: host, c: c, stop: stop, keep: keep}
	return resp, true, nil
}

// unsureEnd reports an answer without a body by the rules whose backend
// may send one all the same (see Answer.Unsure): its connection is not
// reused.
func unsureEnd(resp *http.Response) bool {
	switch {
	case resp.Request.Method == "HEAD":
		return true
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		cl := resp.Header.Get("Content-Length")
		return cl != "" && cl != "0" || len(resp.TransferEncoding) > 0 || resp.Header.Get("Transfer-Encoding") != ""
	}
	return false
}

// pooledBody hands the connection back to the pool once the answer is
// read to its end.
type pooledBody struct {
	r    io.ReadCloser
	t    *Transport
	host string
	c    *Conn
	stop func() bool
	keep bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.release(b.keep)
	} else if err != nil {
		b.release(false)
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

func (b *pooledBody) release(reuse bool) {
	b.done = true
	if !b.stop() {
		reuse = false // the request's context ended and closed the connection
	}
	b.t.putIfClean(b.host, b.c, reuse)
}

// AsksUpgrade reports a request head asking for a protocol upgrade: an
// Upgrade field named by Connection.
func AsksUpgrade(h http.Header) bool {
	if len(h["Upgrade"]) == 0 {
		return false
	}
	for _, v := range h["Connection"] {
		if HasToken([]byte(v), "upgrade") {
			return true
		}
	}
	return false
}

// upgradedConn is the body of a 101 answer: the raw connection, as
// httputil.ReverseProxy expects for protocol upgrades.
type upgradedConn struct {
	io.Reader
	c net.Conn
}

func (u *upgradedConn) Write(p []byte) (int, error) { return u.c.Write(p) }
func (u *upgradedConn) Close() error                { return u.c.Close() }
