package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// This file is the answer side of the lean server's request path: the
// backend's answer head parsed, rewritten for the client, and its body
// relayed (re-chunked when it is not sized); and the router's own error
// answers.

// Framings of an answer's body (RFC 9112 §6.3).
const (
	framingNone   = iota // HEAD, 1xx, 204, 304
	framingLength        // Content-Length
	framingChunked
	framingClose // until the backend closes the connection
)

// respHead is a parsed answer head; its slices point into the backend
// connection's buffer until the head is discarded.
type respHead struct {
	n          int // head length, still buffered
	status     int
	statusText []byte // "200 OK"
	fields     []field
	length     int64
	framing    int
	close      bool
	hasDate    bool
	// unsure: the answer has no body by the rules (HEAD, 204, 304) but
	// its fields announce one, or it answers a HEAD: whether the backend
	// sends a body anyway cannot be known, so its connection is not reused.
	unsure bool
}

// parse parses a plain answer head; false when net/http should.
func (h *respHead) parse(b []byte, head bool) bool {
	*h = respHead{fields: h.fields[:0], length: -1}
	i := bytes.Index(b, crlf)
	line := b[:i]
	if len(line) < 12 || !(string(line[:9]) == "HTTP/1.1 " || string(line[:9]) == "HTTP/1.0 ") || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	h.close = line[7] == '0'
	st := parseLength(line[9:12])
	if st < 100 || !validValue(line[12:]) {
		return false
	}
	h.status, h.statusText = int(st), line[9:]
	var ok bool
	if h.fields, ok = parseFields(b[i+2:], h.fields); !ok {
		return false
	}
	chunked := false
	for k := range h.fields {
		f := &h.fields[k]
		switch name := f.name; {
		case hopByHop(name):
			if is(name, "Transfer-Encoding") {
				// Other codings: net/http says what is wrong; in an
				// HTTP/1.0 answer it ignores the field and reads to the close.
				if !is(f.value, "chunked") || chunked || h.close {
					return false
				}
				chunked = true
			}
			f.drop = true
		case is(name, "Content-Length"):
			n := parseLength(f.value)
			if n < 0 || h.length >= 0 && n != h.length {
				return false
			}
			// Twice the same: served, and the connection not reused.
			h.close = h.close || h.length >= 0
			h.length = n
		case is(name, hdrVersion), is(name, hdrRequestID):
			f.drop = true
		case is(name, "Date"):
			h.hasDate = true
		}
	}
	if close, _ := dropConnectionListed(h.fields); close {
		h.close = true
	}
	switch {
	case head || h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		h.framing = framingNone
		h.unsure = head || chunked || h.length > 0
	case chunked:
		h.framing = framingChunked
		// Content-Length too: served chunked, and the connection is not
		// reused (RFC 9112 §6.3).
		h.close = h.close || h.length >= 0
		for k := range h.fields {
			if is(h.fields[k].name, "Content-Length") {
				h.fields[k].drop = true
			}
		}
	case h.length >= 0:
		h.framing = framingLength
	default:
		h.framing = framingClose
	}
	return true
}

// writeResponseHead writes the client's answer head: the backend's status
// and fields, less hop-by-hop ones, with the version and request id.
func (fc *clientConn) writeResponseHead(b *backend, status int, statusText []byte, fs []field, hasDate bool, framing int) {
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	w.Write(statusText)
	w.WriteString("\r\n")
	for i := range fs {
		if !fs[i].drop && !leftOutWithoutBody(fs[i].name, status) {
			w.Write(fs[i].name)
			w.WriteString(": ")
			w.Write(fs[i].value)
			w.WriteString("\r\n")
		}
	}
	fc.writeTail(b, hasDate, framing == framingChunked || framing == framingClose)
}

// writeTail ends an answer head with the fields the router adds.
func (fc *clientConn) writeTail(b *backend, hasDate, chunked bool) {
	w := fc.bw
	w.WriteString("X-Switchyard-Version: ")
	w.WriteString(b.version)
	w.WriteString("\r\nX-Request-Id: ")
	w.WriteString(fc.x.id)
	w.WriteString("\r\n")
	if !hasDate {
		w.Write(fc.s.date.line(fc.s.rt.now()))
	}
	if chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if fc.s.closing.Load() {
		fc.x.closeAfter = true // shutting down: this answer is the last
	}
	if fc.x.closeAfter {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// relayBody copies the answer's body from src to the client, re-chunking
// what is not sized, and flushing whenever src has nothing more buffered
// (so that streamed answers stream).
func (fc *clientConn) relayBody(src *bufio.Reader, framing int, n int64) error {
	switch framing {
	case framingLength:
		return fc.relayN(src, n, false)
	case framingClose:
		for {
			if src.Buffered() == 0 {
				if err := fc.flush(); err != nil {
					return err
				}
				if _, err := src.Peek(1); err == io.EOF {
					break
				} else if err != nil {
					return err
				}
			}
			if err := fc.relayN(src, int64(src.Buffered()), true); err != nil {
				return err
			}
		}
	case framingChunked:
		for {
			if err := fc.flushUnlessLine(src); err != nil {
				return err
			}
			line, err := src.ReadSlice('\n')
			if err != nil {
				return err
			}
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			size := parseHex(trimOWS(line))
			if size < 0 {
				return errors.New("malformed chunked answer")
			}
			if size == 0 {
				// Trailers are not passed on.
				for {
					if err := fc.flushUnlessLine(src); err != nil {
						return err
					}
					l, err := src.ReadSlice('\n')
					if err != nil {
						return err
					}
					if len(bytes.TrimSpace(l)) == 0 {
						break
					}
				}
				break
			}
			if err := fc.relayN(src, size, true); err != nil {
				return err
			}
			if err := fc.flushUnlessLine(src); err != nil {
				return err
			}
			var end [2]byte
			if _, err := io.ReadFull(src, end[:]); err != nil {
				return err
			}
			if end != [2]byte{'\r', '\n'} {
				return errors.New("malformed chunked answer")
			}
		}
	}
	if framing != framingLength {
		if _, err := fc.bw.WriteString("0\r\n\r\n"); err != nil {
			return clientError{err}
		}
	}
	return nil
}

// relayN copies n bytes from src to the client, as one chunk when
// chunked, capturing them for the shadow's comparison.
func (fc *clientConn) relayN(src *bufio.Reader, n int64, chunked bool) error {
	if chunked {
		fc.bw.Write(strconv.AppendInt(fc.scratch[:0], n, 16))
		fc.bw.WriteString("\r\n")
	}
	for n > 0 {
		if src.Buffered() == 0 {
			if err := fc.flush(); err != nil {
				return err
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		p, _ := src.Peek(int(min(n, int64(src.Buffered()))))
		if fc.x.firstByte.IsZero() {
			fc.x.firstByte = fc.s.rt.now()
		}
		fc.captureBody(p)
		if _, err := fc.bw.Write(p); err != nil {
			return clientError{err}
		}
		_, _ = src.Discard(len(p))
		n -= int64(len(p))
	}
	if chunked {
		if _, err := fc.bw.WriteString("\r\n"); err != nil {
			return clientError{err}
		}
	}
	return nil
}

// flush sends what is buffered for the client, which has WriteTimeout to
// take it.
func (fc *clientConn) flush() error {
	if fc.bw.Buffered() == 0 {
		return nil
	}
	_ = fc.c.SetWriteDeadline(time.Now().Add(fc.s.opts.WriteTimeout))
	if err := fc.bw.Flush(); err != nil {
		return clientError{err}
	}
	return nil
}

// flushUnlessLine flushes what is buffered for the client unless src
// already holds a whole line: the next read would wait for
// the backend, and a streamed answer is written to the client as it
// arrives, coalescing only what has already arrived.
func (fc *clientConn) flushUnlessLine(src *bufio.Reader) error {
	if fc.bw.Buffered() == 0 {
		return nil
	}
	if p, _ := src.Peek(src.Buffered()); bytes.IndexByte(p, '\n') >= 0 {
		return nil
	}
	return fc.flush()
}

func (fc *clientConn) captureBody(p []byte) {
	x := &fc.x
	if x.capture == nil || x.overflow {
		return
	}
	if x.capture.Len()+len(p) > int(fc.s.rt.opts.MaxBodyBytes) {
		x.overflow = true
		return
	}
	x.capture.Write(p)
}

// relayStd relays an answer whose head net/http read.
func (fc *clientConn) relayStd(b *backend, bc backendConn, failOn5xx bool) attemptResult {
	resp := bc.std
	if failOn5xx && resp.StatusCode >= 500 {
		resp.Body.Close()
		bc.c.Close()
		return attemptResult{code: resp.StatusCode, err: statusError{resp.StatusCode}}
	}
	h := resp.Header
	removeHopByHop(h)
	delete(h, hdrVersion)
	delete(h, hdrRequestID)
	framing := framingClose
	switch {
	case resp.Request.Method == "HEAD" || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		framing = framingNone
	case resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0:
		framing = framingLength
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	noBodyFields(h, resp.StatusCode)
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(resp.Status)
	w.WriteString("\r\n")
	_ = h.Write(w)
	fc.writeTail(b, h.Get("Date") != "", framing == framingClose)
	res := attemptResult{code: resp.StatusCode, sent: true}
	if framing != framingNone {
		// resp.Body undoes the backend's framing; relayBody re-frames.
		res.err = fc.relayBody(bufio.NewReader(resp.Body), framing, max(resp.ContentLength, 0))
	}
	resp.Body.Close()
	bc.c.Close()
	if res.err != nil {
		res.code = http.StatusBadGateway
		if isClientError(res.err) {
			res.code = statusClientGone
		}
	}
	return res
}

// leftOutWithoutBody: the fields net/http's server leaves out of answers
// without a body (RFC 9110 §15.4.5 for 304).
func leftOutWithoutBody(name []byte, status int) bool {
	switch {
	case status == http.StatusNotModified:
		return is(name, "Content-Length") || is(name, "Content-Type")
	case status < 200 || status == http.StatusNoContent:
		return is(name, "Content-Length")
	}
	return false
}

// noBodyFields removes what net/http's server leaves out of answers
// without a body (RFC 9110 §15.4.5 for 304).
func noBodyFields(h http.Header, status int) {
	switch {
	case status == http.StatusNotModified:
		delete(h, "Content-Length")
		delete(h, "Content-Type")
	case status < 200 || status == http.StatusNoContent:
		delete(h, "Content-Length")
	}
}

// writeError answers with the router's own JSON error.
func (fc *clientConn) writeError(code int, b *backend, msg string) {
	body, _ := json.Marshal(map[string]string{"error": msg})
	body = append(body, '\n')
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteString(" ")
	w.WriteString(http.StatusText(code))
	w.WriteString("\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n")
	fc.writeTail(b, false, false)
	w.Write(body)
}
