package router

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// Request ids the router issues are signed tokens: 16 bytes of payload
// (issue time in Unix seconds, a random instance number, a counter) and
// the first 12 bytes of their HMAC-SHA256 under the router's key, in
// unpadded base64url: 38 characters of [A-Za-z0-9_-]. Any router holding
// the key can tell an issued id from an invented one, and when it was
// issued, without remembering anything.
const (
	idPayloadLen = 16
	idMACLen     = 12
	idTokenLen   = (8*(idPayloadLen+idMACLen) + 5) / 6
	// idMaxSkew is how far in the future an issue time may lie: the
	// clocks of a fleet sharing a key differ a little.
	idMaxSkew = time.Minute
)

// idPayload identifies one issued id: unique per router fleet.
type idPayload [idPayloadLen]byte

func (p idPayload) issued() time.Time {
	return time.Unix(int64(binary.BigEndian.Uint32(p[:4])), 0)
}

// idIssuer makes and checks request ids.
type idIssuer struct {
	key      []byte
	instance [6]byte
	n        atomic.Uint64
	signers  sync.Pool // *idSigner
}

// idSigner is one HMAC state with its scratch space, pooled so that
// signing allocates nothing.
type idSigner struct {
	mac hash.Hash
	sum [sha256.Size]byte
	raw [idPayloadLen + idMACLen]byte
}

// newIDIssuer signs with key; an empty key gets a random one, so that
// only this router accepts its ids.
func newIDIssuer(key []byte) *idIssuer {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	is := &idIssuer{key: append([]byte(nil), key...)}
	_, _ = rand.Read(is.instance[:])
	is.signers.New = func() any { return &idSigner{mac: hmac.New(sha256.New, is.key)} }
	return is
}

// appendToken appends a fresh token issued at now.
func (is *idIssuer) appendToken(dst []byte, now time.Time) []byte {
	s := is.signers.Get().(*idSigner)
	p := s.raw[:idPayloadLen]
	binary.BigEndian.PutUint32(p[:4], uint32(now.Unix()))
	copy(p[4:10], is.instance[:])
	n := is.n.Add(1)
	p[10], p[11], p[12], p[13], p[14], p[15] = byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	s.mac.Reset()
	s.mac.Write(p)
	copy(s.raw[idPayloadLen:], s.mac.Sum(s.sum[:0]))
	dst = base64.RawURLEncoding.AppendEncode(dst, s.raw[:])
	is.signers.Put(s)
	return dst
}

// check reports the payload of id when this issuer's key signed it. An
// id is a token, or a client's own id, a dot and a token.
func (is *idIssuer) check(id string) (idPayload, bool) {
	var p idPayload
	tok, ok := idToken(id)
	if !ok {
		return p, false
	}
	s := is.signers.Get().(*idSigner)
	defer is.signers.Put(s)
	if n, err := base64.RawURLEncoding.Decode(s.raw[:], []byte(tok)); err != nil || n != len(s.raw) {
		return p, false
	}
	s.mac.Reset()
	s.mac.Write(s.raw[:idPayloadLen])
	if !hmac.Equal(s.mac.Sum(s.sum[:0])[:idMACLen], s.raw[idPayloadLen:]) {
		return p, false
	}
	copy(p[:], s.raw[:idPayloadLen])
	return p, true
}

// idToken is the token part of a request id: all of it, or what follows
// the client's own id and a dot.
func idToken(id string) (string, bool) {
	switch {
	case len(id) == idTokenLen:
		return id, true
	case len(id) > idTokenLen && id[len(id)-idTokenLen-1] == '.':
		return id[len(id)-idTokenLen:], true
	}
	return "", false
}

// issueID is the request id the router gives a request: a fresh token,
// after the client's own sane id and a dot when it sent one, so that
// traces keep the client's id while feedback takes only issued ones. It
// allocates the string and nothing else.
func issueID[T string | []byte](rt *Router, client T) string {
	var buf [maxIDLen + 1 + idTokenLen]byte
	out := buf[:0]
	if len(client) > 0 {
		out = append(out, client...)
		out = append(out, '.')
	}
	return string(rt.ids.issuer.appendToken(out, rt.now()))
}
