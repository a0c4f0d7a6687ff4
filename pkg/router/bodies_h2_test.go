package router

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// pattern is a deterministic stream of n bytes, made as it is read.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 7 % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &pattern{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// A 64 MiB body goes through whole both ways over HTTP/2, on each side of
// the router: the client's request to the version, and its answer back.
func TestLargeBodiesStreamThroughOverHTTP2(t *testing.T) {
	const size = 64 << 20
	var conns atomic.Int64
	be := h2cBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", n, h.Sum(nil)))
		want, _ := strconv.ParseInt(r.URL.Query().Get("answer"), 10, 64)
		_, _ = io.Copy(w, &pattern{n: want})
	}), &conns)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be}, weights("v1", 100)))
	front := serve(t, rt)
	var dials int
	var mu sync.Mutex
	c := h2cClient(&dials, &mu)
	sum := patternSum(size)

	req, _ := http.NewRequest("POST", front.URL+"/v1/m/big?answer="+strconv.Itoa(size), &pattern{n: size})
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("answer: %s %d after %d bytes: %v", resp.Proto, resp.StatusCode, n, err)
	}
	if got := resp.Header.Get("X-Got"); got != fmt.Sprintf("%d %s", size, sum) {
		t.Errorf("the version got %q, want %d bytes summing to %s", got, size, sum)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		t.Errorf("the client got %d bytes, want %d, intact", n, size)
	}
}
