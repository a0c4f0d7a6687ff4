package h1

import (
	"bufio"
	"bytes"
	"errors"
)

// This file parses HTTP/1.1 message heads for the hand-written path. It
// is deliberately strict: whatever it does not recognise as a
// plain, well-formed head is left to net/http, which is not.

// Field is one header field of a head, both slices into the head's bytes.
type Field struct {
	Name, Value []byte
	Drop        bool // not forwarded (hop-by-hop, or replaced by the proxy)
}

// FindHead waits until br holds a whole message head (through the empty
// line) and returns its length. ok is false when the head is not for the
// hand-written path: a bare LF, or longer than br's buffer. Nothing is consumed.
func FindHead(br *bufio.Reader) (n int, ok bool, err error) {
	scanned := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			if bytes.IndexByte(buf[:i], '\n') >= 0 && BareLF(buf[:i+2], 0) {
				return 0, false, nil
			}
			return i + 4, true, nil
		}
		// A head written with bare LFs never shows CRLFCRLF. Only the
		// bytes that came since the last look need looking at (each LF
		// with the byte before it: an LF that ended the last look is not
		// bare for lack of one).
		if BareLF(buf, scanned) {
			return 0, false, nil
		}
		scanned = len(buf)
		if len(buf) >= br.Size() {
			return 0, false, nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if len(buf) > 0 && errors.Is(err, bufio.ErrBufferFull) {
				return 0, false, nil
			}
			return 0, false, err
		}
	}
}

var crlfcrlf = []byte("\r\n\r\n")

// HeadBuffered reports that br holds the end of a head (CRLFCRLF), so
// that FindHead needs no read.
func HeadBuffered(br *bufio.Reader) bool {
	buf, _ := br.Peek(br.Buffered())
	return bytes.Index(buf, crlfcrlf) >= 0
}

// BareLF reports an LF at or after from not preceded by CR.
func BareLF(b []byte, from int) bool {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// parseFields parses header lines (each ending in CRLF, the last one
// empty) into fs; false when a line is not a plain "name: value".
func parseFields(b []byte, fs []Field) ([]Field, bool) {
	for {
		i := bytes.Index(b, crlf)
		if i < 0 {
			return fs, false
		}
		line := b[:i]
		b = b[i+2:]
		if len(line) == 0 {
			return fs, len(b) == 0
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !IsToken(line[:colon]) {
			return fs, false // also obs-fold: a line starting with SP or HT
		}
		v := TrimOWS(line[colon+1:])
		if !ValidValue(v) {
			return fs, false
		}
		fs = append(fs, Field{Name: line[:colon], Value: v})
	}
}

var crlf = []byte("\r\n")

func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// IsToken: RFC 9110 tchar+.
func IsToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// ValidValue: field-vchar, SP and HT (obs-text allowed, CTLs not).
func ValidValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// pathChar: the bytes a request path may hold on the hand-written path (RFC 3986
// unreserved, sub-delims, ':', '@', '/'), the ones that reach the backend
// exactly as they came. Percent-encoded paths go to net/http.
var pathChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = tchar[c]
	}
	for _, c := range "%|`^#" {
		t[c] = false
	}
	for _, c := range "/:@()*,;=" {
		t[c] = true
	}
	return t
}()

// queryChar: a query is passed on as it came, so any visible byte but '#'
// and ';' (httputil.ReverseProxy drops the parameters with a ';', so such
// queries go to net/http).
func queryChar(c byte) bool { return c > ' ' && c < 0x7f && c != '#' && c != ';' }

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validHost: the bytes net/http accepts in a Host field (httpguts'
// ValidHostHeader): a reg-name, IP literal or IPv6 zone, and a port.
func validHost(b []byte) bool {
	for _, c := range b {
		if !hostChar[c] {
			return false
		}
	}
	return true
}

var hostChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!$%&()*+,-.:;=[']_~" {
		t[c] = true
	}
	return t
}()

// HasToken reports tok in a comma-separated list, ignoring ASCII case.
func HasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		var t []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			t, list = TrimOWS(list[:i]), list[i+1:]
		} else {
			t, list = TrimOWS(list), nil
		}
		if Is(t, tok) {
			return true
		}
	}
	return false
}

// Is compares a field name with a canonical name, ignoring ASCII case.
func Is(name []byte, canon string) bool {
	if len(name) != len(canon) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		d := canon[i]
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// HopByHop reports the fields that end at a proxy (RFC 9110 §7.6.1).
func HopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return Is(name, "Te")
	case 7:
		return Is(name, "Upgrade") || Is(name, "Trailer")
	case 10:
		return Is(name, "Connection") || Is(name, "Keep-Alive")
	case 16:
		return Is(name, "Proxy-Connection")
	case 17:
		return Is(name, "Transfer-Encoding")
	case 18:
		return Is(name, "Proxy-Authenticate")
	case 19:
		return Is(name, "Proxy-Authorization")
	}
	return false
}

// DropConnectionListed marks the fields named by the Connection fields
// (also hop-by-hop), even one called Close, as net/http's proxy removes
// them; it reports whether they name close and upgrade.
func DropConnectionListed(fs []Field) (close, upgrade bool) {
	for i := range fs {
		if !Is(fs[i].Name, "Connection") {
			continue
		}
		v := fs[i].Value
		for len(v) > 0 {
			var tok []byte
			if j := bytes.IndexByte(v, ','); j >= 0 {
				tok, v = TrimOWS(v[:j]), v[j+1:]
			} else {
				tok, v = TrimOWS(v), nil
			}
			switch {
			case len(tok) == 0, Is(tok, "keep-alive"): // Keep-Alive is dropped anyway
				continue
			case Is(tok, "close"):
				close = true
			case Is(tok, "upgrade"):
				upgrade = true
			}
			for k := range fs {
				if Is(fs[k].Name, string(tok)) {
					fs[k].Drop = true
				}
			}
		}
	}
	return close, upgrade
}

// ParseLength parses a Content-Length value; -1 when it is not one.
func ParseLength(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// ParseHex parses a chunk size; -1 when it is not one.
func ParseHex(b []byte) int64 {
	if len(b) == 0 || len(b) > 15 {
		return -1
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		n = n<<4 | int64(c)
	}
	return n
}

// maxCookies is net/http's limit (GODEBUG httpcookiemaxnum, default
// 3000): Request.Cookie finds nothing in a request with more cookies.
const maxCookies = 3000

// CookieValue finds the first cookie called name in Cookie field values,
// as net/http's Request.Cookie does: names are trimmed of spaces and tabs,
// a part without '=' is a cookie with an empty value, surrounding quotes
// are removed, a value with bytes a cookie may not hold is skipped, and a
// request with more than maxCookies cookies has none.
func CookieValue(fs []Field, name string) []byte {
	n := 0
	for i := range fs {
		if Is(fs[i].Name, "Cookie") {
			n += bytes.Count(fs[i].Value, semicolon) + 1
		}
	}
	if n > maxCookies {
		return nil
	}
	for i := range fs {
		if !Is(fs[i].Name, "Cookie") {
			continue
		}
		v := fs[i].Value
		for len(v) > 0 {
			var part []byte
			if j := bytes.IndexByte(v, ';'); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			part = TrimOWS(part)
			key, val := part, part[len(part):]
			if eq := bytes.IndexByte(part, '='); eq >= 0 {
				key, val = TrimOWS(part[:eq]), part[eq+1:]
			}
			if string(key) != name || !IsToken(key) {
				continue
			}
			if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if validCookieValue(val) {
				return val
			}
		}
	}
	return nil
}

var semicolon = []byte{';'}

func validCookieValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// SkipEmptyLines discards the CRLFs buffered before a request; true when
// nothing else is buffered.
func SkipEmptyLines(br *bufio.Reader) bool {
	for {
		b, _ := br.Peek(br.Buffered())
		switch {
		case len(b) >= 2 && b[0] == '\r' && b[1] == '\n':
			_, _ = br.Discard(2)
		case len(b) >= 1 && b[0] == '\n':
			_, _ = br.Discard(1)
		default:
			return len(b) == 0
		}
	}
}
