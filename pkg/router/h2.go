package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/h1"
)

// This file is the listener's HTTP/2 (docs/router.md, "HTTP/2 and gRPC").
// A connection speaks HTTP/2 when, under TLS, the client chose "h2" by
// ALPN, or, in clear text, its first bytes are the HTTP/2 preface ("PRI *
// HTTP/2.0", prior knowledge), or an HTTP/1.1 request asks to upgrade to
// h2c. Such a connection is served by golang.org/x/net/http2 with the
// same handler as the net/http fallback (Router.ServeHTTP): every routing
// feature, measurement and answer is the fallback path's. The
// hand-written HTTP/1.1 path pays one byte comparison per connection for it.

// newH2Server is the HTTP/2 server of a Server whose net/http fallback is
// std: it takes std's timeouts, and std's Shutdown sends every HTTP/2
// connection a GOAWAY and lets its streams finish.
func newH2Server(std *http.Server, opts ServerOptions) *http2.Server {
	h2 := &http2.Server{
		IdleTimeout: opts.IdleTimeout,
		// A client that accepts no byte of an answer for WriteTimeout
		// loses its connection, as on HTTP/1.1.
		WriteByteTimeout: opts.WriteTimeout,
	}
	// Only fails for TLS cipher suites, which std does not set.
	_ = http2.ConfigureServer(std, h2)
	return h2
}

// wantsH2 reports whether a new connection, whose first bytes are
// buffered, speaks HTTP/2: "h2" chosen by ALPN, or the preface in clear
// text. An HTTP/1.1 request never starts with "PRI " (RFC 9113 §3.4).
func (cc *clientConn) wantsH2() bool {
	if tc, ok := cc.c.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS
	}
	b, _ := cc.br.Peek(cc.br.Buffered())
	if len(b) == 0 || b[0] != 'P' {
		return false
	}
	if len(b) < 4 {
		// No HTTP/1.1 request is shorter than 4 bytes: waiting for them
		// (under the head's read deadline) cannot stall one.
		b, _ = cc.br.Peek(4)
	}
	return len(b) >= 4 && string(b[:4]) == "PRI "
}

// serveH2 serves a connection over HTTP/2 until it ends; what the
// hand-written path buffered is read first.
func (s *Server) serveH2(cc *clientConn) {
	_ = cc.c.SetDeadline(time.Time{})
	s.h2.ServeConn(h2Conn(cc.c, cc.br), &http2.ServeConnOpts{
		Context:    h2Context(cc.c),
		BaseConfig: s.std,
		Handler:    s.rt,
	})
}

// h2Context is the base context of an HTTP/2 connection's requests.
func h2Context(c net.Conn) context.Context {
	if _, ok := c.(*tls.Conn); ok {
		return context.WithValue(context.Background(), overTLSKey{}, true)
	}
	return context.Background()
}

// h2Conn wraps c so that what r buffered is read first; a TLS connection
// keeps its ConnectionState, which the HTTP/2 server checks and puts on
// requests. The bytes are copied: r goes back to its pool while the
// HTTP/2 server's reader may still be running.
func h2Conn(c net.Conn, r *bufio.Reader) net.Conn {
	b, _ := r.Peek(r.Buffered())
	bc := &bufConn{Conn: c, pending: append([]byte(nil), b...)}
	_, _ = r.Discard(len(b))
	if tc, ok := c.(*tls.Conn); ok {
		return &bufTLSConn{bufConn: bc, tc: tc}
	}
	return bc
}

type bufConn struct {
	net.Conn
	pending []byte // read before the connection
}

func (c *bufConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type bufTLSConn struct {
	*bufConn
	tc *tls.Conn
}

func (c *bufTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// fallbackHandler is the net/http fallback's handler: the router, but for
// a request that asks to upgrade to h2c, whose connection turns HTTP/2.
func (s *Server) fallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if asksH2C(req) {
			over, _ := req.Context().Value(overTLSKey{}).(bool)
			if !over && req.ContentLength >= 0 && req.ContentLength <= s.rt.opts.MaxBodyBytes && s.upgradeH2C(w, req) {
				return
			}
			// Declined (RFC 9113 §3.2 lets a server ignore it): served as
			// HTTP/1.1, and the backend is not asked to upgrade either.
			// The connection closes after the answer, as after any upgrade
			// request not switched: the gate (vet.go) reads no further.
			for _, f := range []string{"Upgrade", "Http2-Settings", "Connection"} {
				req.Header.Del(f)
			}
			w = &closeUnlessSwitched{ResponseWriter: w}
		}
		s.rt.ServeHTTP(w, req)
	})
}

// asksH2C reports an HTTP/1.1 request asking to upgrade to h2c (RFC 7540
// §3.2): Upgrade: h2c and one HTTP2-Settings, both named by Connection.
func asksH2C(req *http.Request) bool {
	if len(req.Header["Upgrade"]) != 1 || !strings.EqualFold(strings.TrimSpace(req.Header["Upgrade"][0]), "h2c") ||
		len(req.Header["Http2-Settings"]) != 1 {
		return false
	}
	var upgrade, settings bool
	for _, v := range req.Header["Connection"] {
		upgrade = upgrade || h1.HasToken([]byte(v), "upgrade")
		settings = settings || h1.HasToken([]byte(v), "http2-settings")
	}
	return upgrade && settings
}

// upgradeH2C switches the connection of req to HTTP/2 and serves it there,
// req first (as stream 1); false when it could not, before anything was
// written.
func (s *Server) upgradeH2C(w http.ResponseWriter, req *http.Request) bool {
	settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(req.Header["Http2-Settings"][0], "="))
	if err != nil {
		return false
	}
	// The upgrade request's body is read before the switch (RFC 9113
	// §3.2); its length was checked.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return false
	}
	req.Body = bodyReader(body)
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	if rw.Flush() != nil {
		c.Close()
		return true
	}
	// Tracked as a connection of the server, for Shutdown and Close.
	cc := s.track(c)
	if cc == nil {
		c.Close()
		return true
	}
	defer s.untrack(cc)
	for _, f := range []string{"Upgrade", "Http2-Settings", "Connection"} {
		req.Header.Del(f)
	}
	s.h2.ServeConn(h2Conn(c, rw.Reader), &http2.ServeConnOpts{
		Context:        context.Background(),
		BaseConfig:     s.std,
		Handler:        s.rt,
		UpgradeRequest: req,
		Settings:       settings,
	})
	c.Close()
	return true
}
