package h1

import "bytes"

// Request is a plain HTTP/1.1 request head, parsed by hand; its slices
// point into the head's bytes.
type Request struct {
	Method, Path, Query, Host []byte
	Fields                    []Field
	Length                    int64 // Content-Length, -1 when absent
	Close                     bool  // the client asked to close
	ID                        []byte
	nID                       int
	IdempotencyKey            bool // Idempotency-Key or X-Idempotency-Key
	// Pragma: no-cache without Cache-Control gets Cache-Control: no-cache,
	// as net/http's server adds (HTTP/1.0 caches).
	PragmaNoCache, CacheControl bool
}

// Parse parses a whole request head (through its empty line, with CRLF
// line ends, as FindHead found it); false when the request is not a
// plain one for the hand-written path: another protocol version, a
// percent-encoded or absolute target, dot segments, a chunked or expected
// body, an upgrade, trailers asked for, no or several Host fields, several
// Content-Lengths, or anything unusual in the syntax. saneID says which
// X-Request-Id values are kept (ID is nil otherwise, or when there are
// several).
func (r *Request) Parse(b []byte, saneID func([]byte) bool) bool {
	*r = Request{Fields: r.Fields[:0], Length: -1}
	i := bytes.Index(b, crlf)
	line := b[:i]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !IsToken(line[:sp]) {
		return false
	}
	r.Method, line = line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" || line[0] != '/' {
		return false
	}
	target := line[:sp]
	r.Path = target
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.Path, r.Query = target[:q], target[q+1:]
		for i, c := range r.Query {
			// A '%' that is not an escape is re-encoded by net/http's
			// proxy: such queries go there.
			if !queryChar(c) || c == '%' && (i+2 >= len(r.Query) || !ishex(r.Query[i+1]) || !ishex(r.Query[i+2])) {
				return false
			}
		}
	}
	for _, c := range r.Path {
		if !pathChar[c] {
			return false
		}
	}
	if dotSegments(r.Path) {
		return false // the gate answers 400
	}
	var ok bool
	if r.Fields, ok = parseFields(b[i+2:], r.Fields); !ok {
		return false
	}
	hosts := 0
	for k := range r.Fields {
		f := &r.Fields[k]
		switch name := f.Name; {
		case HopByHop(name):
			// Trailers (TE: trailers, gRPC's) are relayed by net/http's
			// proxy, which the hand-written path leaves them to.
			if Is(name, "Transfer-Encoding") || Is(name, "Upgrade") || Is(name, "Te") && HasToken(f.Value, "trailers") {
				return false
			}
			f.Drop = true
		case Is(name, "Host"):
			hosts++
			r.Host = f.Value
			if !validHost(f.Value) {
				return false // net/http answers 400
			}
		case Is(name, "Pragma"):
			r.PragmaNoCache = r.PragmaNoCache || string(f.Value) == "no-cache"
		case Is(name, "Cache-Control"):
			r.CacheControl = true
		case Is(name, "Content-Length"):
			if r.Length >= 0 {
				return false
			}
			if r.Length = ParseLength(f.Value); r.Length < 0 {
				return false
			}
		case Is(name, "Expect"):
			return false
		case Is(name, "X-Request-Id"):
			r.nID++
			r.ID = f.Value
		case Is(name, "Idempotency-Key"), Is(name, "X-Idempotency-Key"):
			r.IdempotencyKey = true
		}
	}
	if hosts != 1 {
		return false
	}
	close, upgrade := DropConnectionListed(r.Fields)
	if upgrade {
		return false
	}
	r.Close = close
	if r.nID != 1 || !saneID(r.ID) {
		r.ID = nil
	}
	return true
}

// first is the value of the first field called canon.
func (r *Request) first(canon string) ([]byte, bool) {
	for i := range r.Fields {
		if Is(r.Fields[i].Name, canon) {
			return r.Fields[i].Value, true
		}
	}
	return nil, false
}

// HasHeader reports a non-empty first value of the canonical header.
func (r *Request) HasHeader(canon string) bool {
	v, _ := r.first(canon)
	return len(v) > 0
}

// Header is the first value of the canonical header, "" when none.
func (r *Request) Header(canon string) string {
	v, _ := r.first(canon)
	return string(v)
}

// Cookie is the value of the named cookie as net/http's Request.Cookie
// finds it, "" when none.
func (r *Request) Cookie(name string) string { return string(CookieValue(r.Fields, name)) }
