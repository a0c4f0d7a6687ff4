package behaviour

import (
	"errors"
	"strconv"
	"strings"
)

// Pointer is a parsed RFC 6901 JSON pointer: what a check's or a
// validation's output names in each answer.
type Pointer struct {
	Text   string   // as written
	Tokens []string // unescaped reference tokens; none: the whole document
}

// ParsePointer parses a JSON pointer; "" is the whole document.
func ParsePointer(p string) (Pointer, error) {
	if p == "" {
		return Pointer{}, nil
	}
	if !strings.HasPrefix(p, "/") {
		return Pointer{}, errors.New(`a JSON pointer starts with "/" (RFC 6901)`)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return Pointer{Text: p, Tokens: toks}, nil
}

// Lookup follows the pointer into a decoded JSON document (encoding/json
// types). When it is absent, at is the index of the token that found
// nothing and container says whether a map or array was there.
func (p Pointer) Lookup(doc any) (v any, ok bool, at int, container bool) {
	cur := doc
	for i, tok := range p.Tokens {
		switch c := cur.(type) {
		case map[string]any:
			x, found := c[tok]
			if !found {
				return nil, false, i, true
			}
			cur = x
		case []any:
			idx, err := strconv.Atoi(tok)
			if err != nil || idx < 0 || idx >= len(c) || (len(tok) > 1 && tok[0] == '0') {
				return nil, false, i, true
			}
			cur = c[idx]
		default:
			return nil, false, i, false
		}
	}
	return cur, true, 0, false
}

// Prefix writes the first n tokens back as a pointer.
func (p Pointer) Prefix(n int) string {
	var b strings.Builder
	for _, t := range p.Tokens[:n] {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
