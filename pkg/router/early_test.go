package router

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A backend that refuses a large body before reading it (413, say) and
// closes the connection gets its answer to the client, not a 502: through
// the hand-written path and through Router.ServeHTTP with the router's transport.
func TestBackendAnswersBeforeReadingTheBody(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}))
	t.Cleanup(refuse.Close)
	rt := newTestRouter(t, Options{MaxBodyBytes: 32 << 20})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": refuse.URL}, weights("v1", 100)))
	body := bytes.Repeat([]byte("x"), 8<<20) // under MaxBodyBytes, over the socket buffers
	for name, srv := range map[string]served{"hand-written": serve(t, rt), "net/http": serveStd(t, rt)} {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 2; i++ {
				resp, err := http.Post(srv.URL+"/v1/m/x", "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(got), "too large") {
					t.Fatalf("request %d: %d %q, want the backend's 413", i, resp.StatusCode, got)
				}
			}
		})
	}
}
