package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// ServerOptions configure a Server. Zero values take the defaults noted.
// Each timeout fires after its length at the earliest and an eighth more
// at the latest (h1.Deadlines moves a deadline at most once per eighth).
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's head (default 10s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends nothing (default 2m).
	IdleTimeout time.Duration
	// BodyTimeout bounds reading a request's body on the hand-written
	// path (default 60s).
	BodyTimeout time.Duration
	// WriteTimeout closes a connection whose client takes longer than
	// this to accept any part of an answer (default 60s): a client that
	// stops reading holds no goroutine or backend connection for long.
	WriteTimeout time.Duration
	// ClientCheck is how often a request waiting on its backend checks
	// that its client is still connected (default 1s); a client that left
	// has the backend's connection closed, ending its work.
	ClientCheck time.Duration
}

func (o *ServerOptions) defaults() {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 60 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	if o.ClientCheck <= 0 {
		o.ClientCheck = time.Second
	}
}

// Server serves a Router's data plane over HTTP/1.1, faster than
// net/http's server with the router as its handler, with the same answers.
// Each connection is served by one goroutine that reads a request's head
// into its buffer and, for a plain request to a route whose versions are
// http:// backends behind the router's own transport, proxies it itself
// on the hand-written HTTP/1.1 path (proxy_h1.go, internal/h1): no goroutine, context or request value per request, and the
// backend's answer relayed without being rebuilt. Any other request (the
// feedback endpoint, an unknown path, HTTP/1.0, an upgrade, a chunked or
// 100-continue body, an unusual head) hands the connection, with what it
// has buffered, to a net/http server with Router.ServeHTTP for the rest of
// its life. A connection that speaks HTTP/2 is served by
// golang.org/x/net/http2 with the same handler (h2.go).
type Server struct {
	rt   *Router
	opts ServerOptions
	log  *slog.Logger
	date dateCache

	stdOnce sync.Once
	std     *http.Server
	handoff *handoffListener
	h2      *http2.Server // HTTP/2 connections (h2.go)

	readers, writers sync.Pool

	closing atomic.Bool
	mu      sync.Mutex
	lns     map[net.Listener]struct{}
	conns   map[*clientConn]struct{}
}

// NewServer returns a server for rt's data plane.
func NewServer(rt *Router, opts ServerOptions) *Server {
	opts.defaults()
	s := &Server{
		rt: rt, opts: opts, log: rt.opts.Logger,
		lns: map[net.Listener]struct{}{}, conns: map[*clientConn]struct{}{},
	}
	s.handoff = &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
	s.std = &http.Server{
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		ErrorLog:          rt.proxyLog,
		// A handed-off connection hides its *tls.Conn from net/http:
		// say so in the context, for X-Forwarded-Proto.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if bc, ok := c.(*bufferedConn); ok {
				if _, ok := bc.Conn.(*tls.Conn); ok {
					return context.WithValue(ctx, overTLSKey{}, true)
				}
			}
			return ctx
		},
	}
	s.std.Handler = s.fallbackHandler()
	s.h2 = newH2Server(s.std, opts)
	return s
}

// Serve accepts connections on ln until Shutdown or Close, which make it
// return http.ErrServerClosed; ln is closed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors, say: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accepting a connection", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		cc := s.track(rawconn.Wrap(c))
		if cc == nil {
			c.Close()
			continue
		}
		go cc.serve()
	}
}

// Connection states, for Shutdown to close only idle connections.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

// clientConn is one client connection served by the hand-written path
// until a request only net/http can serve hands it off.
type clientConn struct {
	s     *Server
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32
	ip    string // for X-Forwarded-For

	head  []byte // the current request's head
	req   h1.Request
	body  []byte
	out   []byte      // the head sent to the backend
	o     h1.Outgoing // the request sent, and its answer's head
	x     inFlight
	relay h1.Relay
	dl    h1.Deadlines // the only setter of c's deadlines while served here

	// Checks that the client is still there while the backend thinks
	// (watch.go).
	watch      atomic.Pointer[time.Timer] // read by the timer's own goroutine
	watchMu    sync.Mutex
	watching   *h1.Conn // under watchMu
	watchArmed bool     // under watchMu: the timer will fire
	gone       atomic.Bool

	overTLS bool // the client connection is TLS: X-Forwarded-Proto https
}

func (s *Server) track(c net.Conn) *clientConn {
	cc := &clientConn{s: s, c: c}
	cc.relay = h1.Relay{Flush: cc.flush, Seen: cc.sawBody}
	cc.o.Watch = cc
	_, cc.overTLS = c.(*tls.Conn)
	cc.state.Store(connActive)
	if host, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
		cc.ip = host
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	s.conns[cc] = struct{}{}
	return cc
}

func (s *Server) untrack(cc *clientConn) {
	s.mu.Lock()
	delete(s.conns, cc)
	s.mu.Unlock()
}

const connBufSize = 8 << 10

func (s *Server) reader(c net.Conn) *bufio.Reader {
	if br, ok := s.readers.Get().(*bufio.Reader); ok {
		br.Reset(c)
		return br
	}
	return bufio.NewReaderSize(c, connBufSize)
}

func (s *Server) writer(c net.Conn) *bufio.Writer {
	if bw, ok := s.writers.Get().(*bufio.Writer); ok {
		bw.Reset(c)
		return bw
	}
	return bufio.NewWriterSize(c, connBufSize)
}

// serve reads and answers requests until the client closes, a timeout, an
// error, Shutdown, or a request that only net/http can serve.
func (cc *clientConn) serve() {
	s := cc.s
	handedOff := false
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("the router's connection handler failed", "remote", cc.ip, "panic", p)
		}
		s.untrack(cc)
		if t := cc.watch.Load(); t != nil {
			t.Stop()
		}
		if !handedOff {
			cc.c.Close()
			s.readers.Put(cc.br)
		}
		if cc.bw != nil {
			cc.bw.Reset(nil)
			s.writers.Put(cc.bw)
		}
	}()
	cc.br = s.reader(cc.c)
	wait := s.opts.ReadHeaderTimeout
	first := true
	for {
		// Idle until the first byte of the next request.
		if !cc.state.CompareAndSwap(connActive, connIdle) {
			return
		}
		if cc.br.Buffered() == 0 {
			cc.dl.Read(cc.c, time.Now(), wait)
			if _, err := cc.br.Peek(1); err != nil {
				return
			}
		}
		// Empty lines before a request are ignored (RFC 9112 §2.2).
		if h1.SkipEmptyLines(cc.br) {
			continue
		}
		if !cc.state.CompareAndSwap(connIdle, connActive) {
			return // Shutdown closed it
		}
		if first {
			first = false
			if cc.wantsH2() {
				s.serveH2(cc)
				return
			}
		}
		wait = s.opts.IdleTimeout
		now := time.Now()
		if !h1.HeadBuffered(cc.br) {
			// The rest of the head has ReadHeaderTimeout to come (a head
			// already whole needs no read).
			cc.dl.Read(cc.c, now, s.opts.ReadHeaderTimeout)
		}
		cc.dl.Write(cc.c, now, s.opts.WriteTimeout)
		n, ok, err := h1.FindHead(cc.br)
		if err != nil {
			return
		}
		r, rest := cc.handWritten(n, ok)
		if r == nil {
			handedOff = s.handOff(cc)
			return
		}
		_, _ = cc.br.Discard(n)
		if cc.bw == nil {
			cc.bw = s.writer(cc.c)
		}
		keep := cc.serveHandWritten(r, rest)
		// Every answer goes out before the next read, which may block
		// (the rest of a pipelined head, say).
		if cc.flush() != nil {
			return
		}
		if cc.br.Buffered() == 0 {
			// An idle connection holds no write buffer.
			cc.bw.Reset(nil)
			s.writers.Put(cc.bw)
			cc.bw = nil
		}
		if !keep {
			return
		}
		if cap(cc.body) > 64<<10 {
			cc.body = nil
		}
	}
}

// handWritten is the one decision whether the hand-written path serves
// the request whose head, n bytes, is buffered (plain: h1.FindHead found
// it whole, with CRLF line ends, within the buffer): it parses the head
// and returns the request's route and its path under the route's prefix,
// or nil when net/http must serve the connection from here on: a head
// h1.Request.Parse does not take, the feedback endpoint, a body larger
// than MaxBodyBytes, an unknown path (net/http answers 404), or a route
// with a version the router's own transport does not reach. (For
// answers, h1's readHead decides: a head Answer.Parse does not take is
// read by net/http.)
func (cc *clientConn) handWritten(n int, plain bool) (*route, []byte) {
	rt := cc.s.rt
	if !plain || rt.ownTransport == nil {
		return nil, nil
	}
	raw, _ := cc.br.Peek(n)
	cc.head = append(cc.head[:0], raw...)
	req := &cc.req
	if !req.Parse(cc.head, saneID[[]byte]) || string(req.Path) == FeedbackPath || req.Length > rt.opts.MaxBodyBytes {
		return nil, nil
	}
	r, rest := rt.table.Load().lookupBytes(req.Path)
	if r == nil || !r.handWritten {
		return nil, nil
	}
	return r, rest
}

// handOff gives the connection, with the bytes it has buffered, to the
// net/http server; false when it is shutting down.
func (s *Server) handOff(cc *clientConn) bool {
	s.stdOnce.Do(func() {
		go func() {
			if err := s.std.Serve(s.handoff); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("the router's net/http server stopped", "err", err)
			}
		}()
	})
	cc.dl.ClearRead(cc.c)
	select {
	case s.handoff.conns <- &bufferedConn{Conn: cc.c, r: h1.NewGateReader(cc.br), writeTimeout: s.opts.WriteTimeout}:
		return true
	case <-s.handoff.done:
		return false
	}
}

// overTLSKey marks the context of a request handed off from a TLS
// client connection.
type overTLSKey struct{}

// bufferedConn is a handed-off connection: it reads first what the
// server had buffered, every byte through the strict gate
// (h1.GateReader), and gives each write WriteTimeout to make progress.
type bufferedConn struct {
	net.Conn
	r            *h1.GateReader
	writeTimeout time.Duration
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	return c.Conn.Write(p)
}

// handoffListener feeds handed-off connections to the net/http server.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "handoff" }
func (handoffAddr) String() string  { return "handoff" }

// Shutdown stops accepting connections, closes idle ones, and waits for
// the requests in flight to be answered (their connections then close),
// or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	stdDone := make(chan error, 1)
	go func() { stdDone <- s.std.Shutdown(ctx) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for cc := range s.conns {
			if cc.state.CompareAndSwap(connIdle, connClosed) {
				cc.c.Close()
			}
		}
		left := len(s.conns)
		s.mu.Unlock()
		if left == 0 {
			return <-stdDone
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.stop()
	s.mu.Lock()
	for cc := range s.conns {
		cc.state.Store(connClosed)
		cc.c.Close()
	}
	s.mu.Unlock()
	return s.std.Close()
}

func (s *Server) stop() {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	s.handoff.Close()
}

// dateCache formats the Date field once a second.
type dateCache struct{ v atomic.Pointer[dateLine] }

type dateLine struct {
	sec  int64
	line []byte
}

func (d *dateCache) line(now time.Time) []byte {
	sec := now.Unix()
	if l := d.v.Load(); l != nil && l.sec == sec {
		return l.line
	}
	l := &dateLine{sec: sec, line: []byte("Date: " + now.UTC().Format(http.TimeFormat) + "\r\n")}
	d.v.Store(l)
	return l.line
}
