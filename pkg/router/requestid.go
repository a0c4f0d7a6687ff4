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

// Request ids the router issues are signed tokens: 18 bytes of payload
// (issue time in Unix seconds, a reference to the version chosen, a random
// instance number, a counter) and the first 12 bytes of their HMAC-SHA256
// under the router's key, in unpadded base64url: 40 characters of
// [A-Za-z0-9_-]. Any router holding the key can tell an issued id from an
// invented one, when it was issued and which version it went to, without
// remembering anything.
const (
	idPayloadLen = 18
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

// ref is the versionRef of the version chosen for the request (0: none).
func (p idPayload) ref() uint32 { return binary.BigEndian.Uint32(p[4:8]) }

// versionRef names a version in an id: FNV-1a of model, stage and version,
// the same in every router of a fleet and across restarts.
func versionRef(model, stage, version string) uint32 {
	h := uint32(2166136261)
	for _, s := range [...]string{model, stage, version} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
		h *= 16777619 // a separator: ("ab", "c") is not ("a", "bc")
	}
	return max(h, 1)
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

// appendToken appends a fresh token issued at now for the version ref.
func (is *idIssuer) appendToken(dst []byte, now time.Time, ref uint32) []byte {
	s := is.signers.Get().(*idSigner)
	p := s.raw[:idPayloadLen]
	binary.BigEndian.PutUint32(p[:4], uint32(now.Unix()))
	binary.BigEndian.PutUint32(p[4:8], ref)
	copy(p[8:14], is.instance[:])
	binary.BigEndian.PutUint32(p[14:18], uint32(is.n.Add(1)))
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

// issueID is the request id the router gives a request for version b
// (nil: none): a fresh token, after the client's own sane id and a dot
// when it sent one, so that traces keep the client's id while feedback
// takes only issued ones. It allocates the string and nothing else.
func issueID[T string | []byte](rt *Router, client T, b *backend) string {
	var buf [maxIDLen + 1 + idTokenLen]byte
	out := buf[:0]
	if len(client) > 0 {
		out = append(out, client...)
		out = append(out, '.')
	}
	var ref uint32
	if b != nil {
		ref = b.stats.ref
	}
	return string(rt.ids.issuer.appendToken(out, rt.now(), ref))
}
