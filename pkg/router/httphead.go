package router

import (
	"bufio"
	"bytes"
	"errors"
)

// This file parses HTTP/1.1 message heads for the lean server (server.go,
// fast.go). It is deliberately strict: whatever it does not recognise as a
// plain, well-formed head is left to net/http, which is not.

// field is one header field of a head, both slices into the head's bytes.
type field struct {
	name, value []byte
	drop        bool // not forwarded (hop-by-hop, or replaced by the proxy)
}

// findHead waits until br holds a whole message head (through the empty
// line) and returns its length. ok is false when the head is not for the
// lean path: a bare LF, or longer than br's buffer. Nothing is consumed.
func findHead(br *bufio.Reader) (n int, ok bool, err error) {
	scanned := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			if bytes.IndexByte(buf[:i], '\n') >= 0 && bareLF(buf[:i+2], 0) {
				return 0, false, nil
			}
			return i + 4, true, nil
		}
		// A head written with bare LFs never shows CRLFCRLF. Only the
		// bytes that came since the last look need looking at (each LF
		// with the byte before it: an LF that ended the last look is not
		// bare for lack of one).
		if bareLF(buf, scanned) {
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

// bareLF reports an LF at or after from not preceded by CR.
func bareLF(b []byte, from int) bool {
	for i := from; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// parseFields parses header lines (each ending in CRLF, the last one
// empty) into fs; false when a line is not a plain "name: value".
func parseFields(b []byte, fs []field) ([]field, bool) {
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
		if colon <= 0 || !isToken(line[:colon]) {
			return fs, false // also obs-fold: a line starting with SP or HT
		}
		v := trimOWS(line[colon+1:])
		if !validValue(v) {
			return fs, false
		}
		fs = append(fs, field{name: line[:colon], value: v})
	}
}

var crlf = []byte("\r\n")

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isToken: RFC 9110 tchar+.
func isToken(b []byte) bool {
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

// validValue: field-vchar, SP and HT (obs-text allowed, CTLs not).
func validValue(b []byte) bool {
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

// pathChar: the bytes a request path may hold on the lean path (RFC 3986
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

// hasToken reports tok in a comma-separated list, ignoring ASCII case.
func hasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		var t []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			t, list = trimOWS(list[:i]), list[i+1:]
		} else {
			t, list = trimOWS(list), nil
		}
		if is(t, tok) {
			return true
		}
	}
	return false
}

// is compares a field name with a canonical name, ignoring ASCII case.
func is(name []byte, canon string) bool {
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

// hopByHop reports the fields that end at a proxy (RFC 9110 §7.6.1).
func hopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return is(name, "Te")
	case 7:
		return is(name, "Upgrade") || is(name, "Trailer")
	case 10:
		return is(name, "Connection") || is(name, "Keep-Alive")
	case 16:
		return is(name, "Proxy-Connection")
	case 17:
		return is(name, "Transfer-Encoding")
	case 18:
		return is(name, "Proxy-Authenticate")
	case 19:
		return is(name, "Proxy-Authorization")
	}
	return false
}

// dropConnectionListed marks the fields named by the Connection fields
// (also hop-by-hop), even one called Close, as net/http's proxy removes
// them; it reports whether they name close and upgrade.
func dropConnectionListed(fs []field) (close, upgrade bool) {
	for i := range fs {
		if !is(fs[i].name, "Connection") {
			continue
		}
		v := fs[i].value
		for len(v) > 0 {
			var tok []byte
			if j := bytes.IndexByte(v, ','); j >= 0 {
				tok, v = trimOWS(v[:j]), v[j+1:]
			} else {
				tok, v = trimOWS(v), nil
			}
			switch {
			case len(tok) == 0, is(tok, "keep-alive"): // Keep-Alive is dropped anyway
				continue
			case is(tok, "close"):
				close = true
			case is(tok, "upgrade"):
				upgrade = true
			}
			for k := range fs {
				if is(fs[k].name, string(tok)) {
					fs[k].drop = true
				}
			}
		}
	}
	return close, upgrade
}

// parseLength parses a Content-Length value; -1 when it is not one.
func parseLength(b []byte) int64 {
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

// parseHex parses a chunk size; -1 when it is not one.
func parseHex(b []byte) int64 {
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

// cookieValue finds the first cookie called name in Cookie field values,
// as net/http's Request.Cookie does: names are trimmed of spaces and tabs,
// a part without '=' is a cookie with an empty value, surrounding quotes
// are removed, a value with bytes a cookie may not hold is skipped, and a
// request with more than maxCookies cookies has none.
func cookieValue(fs []field, name string) []byte {
	n := 0
	for i := range fs {
		if is(fs[i].name, "Cookie") {
			n += bytes.Count(fs[i].value, semicolon) + 1
		}
	}
	if n > maxCookies {
		return nil
	}
	for i := range fs {
		if !is(fs[i].name, "Cookie") {
			continue
		}
		v := fs[i].value
		for len(v) > 0 {
			var part []byte
			if j := bytes.IndexByte(v, ';'); j >= 0 {
				part, v = v[:j], v[j+1:]
			} else {
				part, v = v, nil
			}
			part = trimOWS(part)
			key, val := part, part[len(part):]
			if eq := bytes.IndexByte(part, '='); eq >= 0 {
				key, val = trimOWS(part[:eq]), part[eq+1:]
			}
			if string(key) != name || !isToken(key) {
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
