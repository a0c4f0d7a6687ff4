package h1

import (
	"bufio"
	"bytes"
	"errors"
)

// This file is the router's strict gate for request heads and bodies
// (docs/router.md, "HTTP/1.1 conformance and hardening"): whatever reaches
// a backend was framed one way only. The hand-written parser (request.go)
// takes only plain heads; the router hands anything else, unread, to
// net/http through a GateReader, which checks every head and chunked body
// on the connection before net/http sees a byte of it, so that net/http's
// leniencies (obs-fold, bare LF, Content-Length with Transfer-Encoding,
// Transfer-Encoding in HTTP/1.0, duplicate Content-Lengths) never apply.
// A head that fails is answered 400 by net/http, which closes the
// connection.

// maxHeadBytes bounds a request head on the net/http path.
const maxHeadBytes = 64 << 10

// refused is what net/http reads in place of a head that fails the gate:
// a request line it refuses with 400 (and closes the connection).
var refused = []byte("refused\r\n\r\n")

// badRequest is a request that fails the gate.
type badRequest struct{ why string }

func (e badRequest) Error() string { return "malformed request: " + e.why }

// BodyFraming is how a vetted request's body is delimited.
type BodyFraming struct {
	Length  int64 // Content-Length, 0 when none
	Chunked bool
	Upgrade bool // asks for a protocol upgrade: the rest is not HTTP if granted
}

// VetHead checks a whole request head (through its empty line): a
// request line "METHOD SP target SP HTTP/1.x", fields "name: value" with
// CRLF line ends (no bare LF, no obs-fold, no control bytes), at most one
// Content-Length of digits only, Transfer-Encoding only as a single
// "chunked", only in HTTP/1.1, never with Content-Length, and no dot
// segments in the path.
func VetHead(head []byte) (BodyFraming, error) {
	var f BodyFraming
	if BareLF(head, 0) {
		return f, badRequest{"a line ends in a bare LF"}
	}
	i := bytes.Index(head, crlf)
	if i < 0 {
		return f, badRequest{"no request line"}
	}
	line, rest := head[:i], head[i+2:]
	method, line, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(line, []byte{' '})
	if !ok1 || !ok2 || !IsToken(method) || len(target) == 0 {
		return f, badRequest{"malformed request line"}
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return f, badRequest{"a control byte, space or non-ASCII byte in the target"}
		}
	}
	http10 := string(version) == "HTTP/1.0"
	if !http10 && string(version) != "HTTP/1.1" {
		return f, badRequest{"protocol version other than HTTP/1.0 or HTTP/1.1"}
	}
	if dotSegments(requestPath(target)) {
		return f, badRequest{"a dot segment in the path"}
	}
	var lengths, encodings int
	var upgradeField, connUpgrade bool
	for len(rest) > 2 {
		i := bytes.Index(rest, crlf)
		line, rest = rest[:i], rest[i+2:]
		if line[0] == ' ' || line[0] == '\t' {
			return f, badRequest{"a folded field line (obs-fold)"}
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || !IsToken(name) {
			return f, badRequest{"malformed field line"}
		}
		value = TrimOWS(value)
		if !ValidValue(value) {
			return f, badRequest{"a control byte in the value of " + string(name)}
		}
		switch {
		case Is(name, "Content-Length"):
			lengths++
			if f.Length = ParseLength(value); f.Length < 0 {
				return f, badRequest{"Content-Length is not a number"}
			}
		case Is(name, "Transfer-Encoding"):
			encodings++
			if !Is(value, "chunked") {
				return f, badRequest{"Transfer-Encoding other than chunked"}
			}
			f.Chunked = true
		case Is(name, "Upgrade"):
			upgradeField = true
		case Is(name, "Connection"):
			connUpgrade = connUpgrade || HasToken(value, "upgrade")
		}
	}
	switch {
	case lengths > 1:
		return f, badRequest{"more than one Content-Length"}
	case encodings > 1:
		return f, badRequest{"more than one Transfer-Encoding"}
	case f.Chunked && lengths > 0:
		return f, badRequest{"both Content-Length and Transfer-Encoding"}
	case f.Chunked && http10:
		return f, badRequest{"Transfer-Encoding in an HTTP/1.0 request"}
	}
	f.Upgrade = upgradeField && connUpgrade
	return f, nil
}

// requestPath is the path of a request target: origin form up to '?',
// or the path of an absolute form.
func requestPath(target []byte) []byte {
	if target[0] != '/' {
		if i := bytes.Index(target, []byte("://")); i >= 0 {
			target = target[i+3:]
			if j := bytes.IndexByte(target, '/'); j >= 0 {
				target = target[j:]
			} else {
				return nil
			}
		}
	}
	if q := bytes.IndexAny(target, "?#"); q >= 0 {
		target = target[:q]
	}
	return target
}

// dotSegments reports a "." or ".." segment in a path, with the dots
// percent-encoded or not, and with '\', "%2F" and "%5C" taken as
// separators too (as some backends decode them), so that no backend can
// resolve the path to another one than the router routed.
func dotSegments(path []byte) bool {
	dots, plain := 0, true // in the current segment
	for i := 0; i <= len(path); i++ {
		sep := i == len(path) || path[i] == '/' || path[i] == '\\'
		if !sep && path[i] == '%' && i+2 < len(path) {
			switch {
			case path[i+1] == '2' && (path[i+2] == 'e' || path[i+2] == 'E'):
				dots++
				i += 2
				continue
			case path[i+1] == '2' && (path[i+2] == 'f' || path[i+2] == 'F'),
				path[i+1] == '5' && (path[i+2] == 'c' || path[i+2] == 'C'):
				sep = true
				i += 2
			}
		}
		if sep {
			if plain && (dots == 1 || dots == 2) {
				return true
			}
			dots, plain = 0, true
			continue
		}
		if path[i] == '.' {
			dots++
		} else {
			plain = false
		}
	}
	return false
}

// GateReader is a handed-off connection's byte stream as net/http reads
// it: each head is read whole and checked by vetHead before any of it is
// passed on, and chunked bodies are checked as they pass; the first fault
// Is net/http's read error from then on, after a request line it refuses
// when the fault is in a head (either way it answers 400 and closes).
// Leading empty lines before a head are dropped (RFC 9112 §2.2).
type GateReader struct {
	r         *bufio.Reader
	head      []byte // the head read so far
	lineStart int    // where in head the line being read starts
	pending   []byte // checked bytes not yet passed on
	left      int64  // body bytes (or chunk data) still to pass
	chunk     int    // where in a chunked body: chunkNone, chunkSize...
	raw       bool   // after an upgrade request: no longer HTTP
	err       error
}

// NewGateReader reads a connection's bytes, starting with those r holds,
// through the gate.
func NewGateReader(r *bufio.Reader) *GateReader { return &GateReader{r: r} }

const (
	chunkNone = iota
	chunkSize
	chunkData
	chunkEnd
	chunkTrailer
)

func (v *GateReader) Read(p []byte) (int, error) {
	for {
		switch {
		case len(v.pending) > 0:
			n := copy(p, v.pending)
			v.pending = v.pending[n:]
			return n, nil
		case v.err != nil:
			return 0, v.err
		case v.raw:
			return v.r.Read(p)
		case v.left > 0:
			if int64(len(p)) > v.left {
				p = p[:v.left]
			}
			n, err := v.r.Read(p)
			v.left -= int64(n)
			if v.left == 0 && v.chunk == chunkData {
				v.chunk = chunkEnd
			}
			return n, err
		}
		var err error
		switch v.chunk {
		case chunkNone:
			err = v.readHead()
		case chunkSize, chunkTrailer:
			err = v.readChunkLine()
		case chunkEnd:
			var end []byte
			if end, err = v.r.Peek(2); err == nil {
				if string(end) != "\r\n" {
					err = v.fail("a chunk not followed by CRLF")
				} else {
					_, _ = v.r.Discard(2)
					v.pending, v.chunk = crlf, chunkSize
				}
			}
		}
		if err != nil {
			return 0, err
		}
	}
}

func (v *GateReader) fail(why string) error {
	v.err = badRequest{why}
	return v.err
}

// readLine appends a line to v.head; done when it ends in LF. A read
// error keeps what was read, for the next call to go on.
func (v *GateReader) readLine(max int) (done bool, err error) {
	line, err := v.r.ReadSlice('\n')
	v.head = append(v.head, line...)
	if len(v.head) > max {
		return false, v.fail("a head or chunk line too long")
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return false, nil
	}
	return err == nil, err
}

func (v *GateReader) readHead() error {
	for {
		done, err := v.readLine(maxHeadBytes)
		if err != nil {
			return err
		}
		if !done {
			continue
		}
		start := v.lineStart
		line := v.head[start:]
		v.lineStart = len(v.head)
		if string(line) != "\r\n" && string(line) != "\n" {
			continue
		}
		v.lineStart = 0
		if start == 0 {
			v.head = v.head[:0] // an empty line before a request
			continue
		}
		f, err := VetHead(v.head)
		if err != nil {
			// Not the error itself: net/http may be reading ahead while
			// it answers the previous request (to notice a client that
			// left), and would cancel that request. A request line it
			// must refuse gets the 400 answered in turn.
			v.err, v.pending, v.head = err, refused, nil
			return nil
		}
		v.pending, v.head = v.head, nil
		v.left, v.raw = f.Length, f.Upgrade
		if f.Chunked {
			v.chunk = chunkSize
		}
		return nil
	}
}

// readChunkLine reads a chunk-size line or a trailer line.
func (v *GateReader) readChunkLine() error {
	for {
		done, err := v.readLine(4096)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	line := v.head
	if !bytes.HasSuffix(line, crlf) || BareLF(line, 0) {
		return v.fail("a chunked body line without CRLF")
	}
	body := line[:len(line)-2]
	switch v.chunk {
	case chunkSize:
		size, ext, _ := bytes.Cut(body, []byte{';'})
		n := ParseHex(bytes.TrimRight(size, " \t"))
		if n < 0 || !ValidValue(ext) {
			return v.fail("a malformed chunk size")
		}
		v.left, v.chunk = n, chunkData
		if n == 0 {
			v.chunk = chunkTrailer
		}
	case chunkTrailer:
		if len(body) == 0 {
			v.chunk = chunkNone
			break
		}
		name, value, ok := bytes.Cut(body, []byte{':'})
		if !ok || !IsToken(name) || !ValidValue(value) {
			return v.fail("a malformed trailer field")
		}
	}
	v.pending, v.head = v.head, nil
	return nil
}
