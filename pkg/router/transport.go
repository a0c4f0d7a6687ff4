package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// leanTransport is the router's default HTTP/1.1 RoundTripper for http://
// backends: a stack of keep-alive connections per host, each request
// written and its answer read in the caller's goroutine. http.Transport
// hands every request to two goroutines per connection (its read and write
// loops); doing without them is about 20% more requests per second on two
// cores. https:// goes through a standard http.Transport.
//
// A connection is reused only when provably clean (reuse.go): its last
// answer read to its framed end, nothing buffered, and a non-blocking
// read before every reuse finding nothing arriving. One that dies before
// answering all the same is retried on a new connection only under the
// router's retry rule (replayable).
type leanTransport struct {
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
	idle      map[string][]*leanConn
	lastSweep time.Time
}

var _ http.RoundTripper = (*leanTransport)(nil)

type leanConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	probe  *probe // made at the first reuse
}

func newLeanTransport(headerTimeout time.Duration) *leanTransport {
	return &leanTransport{
		dialer:        net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		headerTimeout: headerTimeout,
		idleTimeout:   90 * time.Second,
		maxIdle:       1024,
		now:           time.Now,
		tls:           newTransport(headerTimeout),
		idle:          map[string][]*leanConn{},
	}
}

// get pops the most recently used live connection to host; nil when none.
func (t *leanTransport) get(host string) *leanConn {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.idle[host]
	for len(l) > 0 {
		c := l[len(l)-1]
		l[len(l)-1] = nil
		l = l[:len(l)-1]
		if now.Sub(c.idleAt) < t.idleTimeout {
			t.idle[host] = l
			return c
		}
		c.c.Close()
	}
	t.idle[host] = l
	return nil
}

func (t *leanTransport) put(host string, c *leanConn) {
	now := t.now()
	c.idleAt = now
	var expired []*leanConn
	t.mu.Lock()
	if len(t.idle[host]) < t.maxIdle {
		t.idle[host] = append(t.idle[host], c)
		c = nil
	}
	// Now and then, close what idled too long, such as the connections to
	// backends that left the routing table.
	if now.Sub(t.lastSweep) > t.idleTimeout {
		t.lastSweep = now
		for h, l := range t.idle {
			kept := l[:0]
			for _, ic := range l {
				if now.Sub(ic.idleAt) < t.idleTimeout {
					kept = append(kept, ic)
				} else {
					expired = append(expired, ic)
				}
			}
			clear(l[len(kept):])
			if len(kept) == 0 {
				delete(t.idle, h)
			} else {
				t.idle[h] = kept
			}
		}
	}
	t.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
	for _, ic := range expired {
		ic.c.Close()
	}
}

// CloseIdleConnections closes every pooled connection.
func (t *leanTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*leanConn{}
	t.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.c.Close()
		}
	}
	t.tls.CloseIdleConnections()
}

func (t *leanTransport) dial(ctx context.Context, host string) (*leanConn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &leanConn{c: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}, nil
}

// dialHost dials a new connection for the lean server (fast.go).
func (t *leanTransport) dialHost(host string) (*leanConn, error) {
	return t.dial(context.Background(), host)
}

// earlyAnswerWait is how long an answer is awaited after the request could
// not be written whole.
const earlyAnswerWait = time.Second

// errStale marks a failure on a reused connection before any answer.
var errStale = errors.New("reused connection closed before answering")

func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.tls.RoundTrip(req)
	}
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	if c := t.getClean(host); c != nil {
		resp, err := t.exchange(ctx, host, c, req, true)
		if !errors.Is(err, errStale) || !t.mayReplay(req) {
			return resp, err
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
	c, err := t.dial(ctx, host)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.exchange(ctx, host, c, req, false)
}

// mayReplay applies the retry rule (reuse.go) to req, whose body must
// be absent or rewindable.
func (t *leanTransport) mayReplay(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	return replayable(req.Method, hasIdempotencyKey(req.Header))
}

// exchange writes req on c and reads the answer's header. The connection
// belongs to the answer's body until it is read to the end (then it is
// pooled) or closed early (then it is closed).
func (t *leanTransport) exchange(ctx context.Context, host string, c *leanConn, req *http.Request, reused bool) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.c.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	writeErr := req.Write(c.bw)
	if writeErr == nil {
		writeErr = c.bw.Flush()
	}
	if writeErr != nil && ctx.Err() != nil {
		return fail(writeErr)
	}
	switch {
	case writeErr != nil:
		// The backend may have answered before reading the whole body
		// (413, say) and closed: its answer is read all the same.
		_ = c.c.SetDeadline(time.Now().Add(earlyAnswerWait))
	case t.wholeTimeout > 0:
		_ = c.c.SetDeadline(time.Now().Add(t.wholeTimeout))
	case t.headerTimeout > 0:
		_ = c.c.SetReadDeadline(time.Now().Add(t.headerTimeout))
	}
	var resp *http.Response
	conflict := false
	for {
		// net/http removes a Content-Length sent with Transfer-Encoding
		// before anyone can see it: the raw head says whether the
		// connection may be reused (RFC 9112 §6.3).
		n, ok, err := findHead(c.br)
		var r *http.Response
		if err == nil {
			head, _ := c.br.Peek(n)
			conflict = !ok || framingConflict(head)
			r, err = http.ReadResponse(c.br, req)
		}
		if err != nil {
			var ne net.Error
			if reused && !(errors.As(err, &ne) && ne.Timeout()) && c.br.Buffered() == 0 {
				return fail(errors.Join(errStale, err))
			}
			if writeErr != nil {
				err = writeErr
			}
			return fail(err)
		}
		if r.StatusCode < 100 {
			return fail(errBadStatus)
		}
		if r.StatusCode >= 200 || r.StatusCode == http.StatusSwitchingProtocols {
			resp = r
			break
		}
		// 1xx interim answers (100 Continue, 103 Early Hints) are not passed on.
	}
	if t.headerTimeout > 0 && t.wholeTimeout == 0 {
		_ = c.c.SetReadDeadline(time.Time{})
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if !asksUpgrade(req.Header) {
			return fail(errUnaskedSwitch)
		}
		stop()
		resp.Body = &upgradedConn{Reader: c.br, c: c.c}
		return resp, nil
	}
	if writeErr != nil {
		_ = c.c.SetDeadline(time.Time{})
	}
	keep := !resp.Close && !req.Close && writeErr == nil && !unsureEnd(resp) && !conflict
	resp.Body = &leanBody{r: resp.Body, t: t, host: host, c: c, stop: stop, keep: keep}
	return resp, nil
}

// framingConflict reports an answer head with both Content-Length and
// Transfer-Encoding, or more than one Content-Length.
func framingConflict(head []byte) bool {
	lengths, encodings := 0, 0
	for len(head) > 0 {
		i := bytes.Index(head, crlf)
		if i < 0 {
			break
		}
		name, _, _ := bytes.Cut(head[:i], []byte{':'})
		head = head[i+2:]
		switch {
		case is(name, "Content-Length"):
			lengths++
		case is(name, "Transfer-Encoding"):
			encodings++
		}
	}
	return lengths > 1 || lengths > 0 && encodings > 0
}

// unsureEnd reports an answer without a body by the rules whose backend
// may send one all the same (see respHead.unsure): its connection is not
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

// leanBody hands the connection back to the pool once the answer is read
// to its end.
type leanBody struct {
	r    io.ReadCloser
	t    *leanTransport
	host string
	c    *leanConn
	stop func() bool
	keep bool
	done bool
}

func (b *leanBody) Read(p []byte) (int, error) {
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

func (b *leanBody) Close() error {
	if !b.done {
		b.release(false)
	}
	return nil
}

func (b *leanBody) release(reuse bool) {
	b.done = true
	if !b.stop() {
		reuse = false // the request's context ended and closed the connection
	}
	b.t.putIfClean(b.host, b.c, reuse)
}

// asksUpgrade reports a request head asking for a protocol upgrade: an
// Upgrade field named by Connection.
func asksUpgrade(h http.Header) bool {
	if len(h["Upgrade"]) == 0 {
		return false
	}
	for _, v := range h["Connection"] {
		if hasToken([]byte(v), "upgrade") {
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
