package h1

import (
	"bytes"
	"net/http"
)

// Framing is how an answer's body is delimited (RFC 9112 §6.3).
type Framing int

// Framings of an answer's body.
const (
	FramingNone   Framing = iota // HEAD, 1xx, 204, 304
	FramingLength                // Content-Length
	FramingChunked
	FramingClose // until the backend closes the connection
)

// Answer is an answer head parsed by hand; its slices point into the
// backend connection's buffer until the head is discarded.
type Answer struct {
	N          int // head length, still buffered
	Status     int
	StatusText []byte // "200 OK"
	Fields     []Field
	Length     int64
	Framing    Framing
	Close      bool
	HasDate    bool
	// Unsure: the answer has no body by the rules (HEAD, 204, 304) but
	// its fields announce one, or it answers a HEAD: whether the backend
	// sends a body anyway cannot be known, so its connection is not reused.
	Unsure bool
}

// Parse parses a plain answer head (to a HEAD request when head is
// set); false when net/http should read it.
func (h *Answer) Parse(b []byte, head bool) bool {
	*h = Answer{Fields: h.Fields[:0], Length: -1}
	i := bytes.Index(b, crlf)
	line := b[:i]
	if len(line) < 12 || !(string(line[:9]) == "HTTP/1.1 " || string(line[:9]) == "HTTP/1.0 ") || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	h.Close = line[7] == '0'
	st := ParseLength(line[9:12])
	if st < 100 || !ValidValue(line[12:]) {
		return false
	}
	h.Status, h.StatusText = int(st), line[9:]
	var ok bool
	if h.Fields, ok = parseFields(b[i+2:], h.Fields); !ok {
		return false
	}
	chunked := false
	for k := range h.Fields {
		f := &h.Fields[k]
		switch name := f.Name; {
		case HopByHop(name):
			if Is(name, "Transfer-Encoding") {
				// Other codings: net/http says what is wrong; in an
				// HTTP/1.0 answer it ignores the field and reads to the close.
				if !Is(f.Value, "chunked") || chunked || h.Close {
					return false
				}
				chunked = true
			}
			f.Drop = true
		case Is(name, "Content-Length"):
			n := ParseLength(f.Value)
			if n < 0 || h.Length >= 0 && n != h.Length {
				return false
			}
			// Twice the same: served, and the connection not reused.
			h.Close = h.Close || h.Length >= 0
			h.Length = n
		case Is(name, "Date"):
			h.HasDate = true
		}
	}
	if close, _ := DropConnectionListed(h.Fields); close {
		h.Close = true
	}
	switch {
	case head || h.Status < 200 || h.Status == http.StatusNoContent || h.Status == http.StatusNotModified:
		h.Framing = FramingNone
		h.Unsure = head || chunked || h.Length > 0
	case chunked:
		h.Framing = FramingChunked
		// Content-Length too: served chunked, and the connection is not
		// reused (RFC 9112 §6.3).
		h.Close = h.Close || h.Length >= 0
		for k := range h.Fields {
			if Is(h.Fields[k].Name, "Content-Length") {
				h.Fields[k].Drop = true
			}
		}
	case h.Length >= 0:
		h.Framing = FramingLength
	default:
		h.Framing = FramingClose
	}
	return true
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
		case Is(name, "Content-Length"):
			lengths++
		case Is(name, "Transfer-Encoding"):
			encodings++
		}
	}
	return lengths > 1 || lengths > 0 && encodings > 0
}

// LeftOutWithoutBody reports the fields net/http's server leaves out of
// answers without a body (RFC 9110 §15.4.5 for 304).
func LeftOutWithoutBody(name []byte, status int) bool {
	switch {
	case status == http.StatusNotModified:
		return Is(name, "Content-Length") || Is(name, "Content-Type")
	case status < 200 || status == http.StatusNoContent:
		return Is(name, "Content-Length")
	}
	return false
}

// RemoveNoBodyFields removes what net/http's server leaves out of answers
// without a body (RFC 9110 §15.4.5 for 304).
func RemoveNoBodyFields(h http.Header, status int) {
	switch {
	case status == http.StatusNotModified:
		delete(h, "Content-Length")
		delete(h, "Content-Type")
	case status < 200 || status == http.StatusNoContent:
		delete(h, "Content-Length")
	}
}
