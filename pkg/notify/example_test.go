package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/notify"
)

// A webhook receiver written in Go checks the signature of each delivery
// before it trusts the body.
func ExampleVerify() {
	secret := []byte("NOTIFY_SECRET's value")
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.Verify(secret, body, r.Header.Get(notify.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified:", r.Header.Get(notify.EventHeader))
	})

	body := []byte(`{"event":"rollback","model":"fraud","stage":"production"}`)
	for _, sig := range []string{notify.Sign(secret, body), notify.Sign([]byte("guess"), body)} {
		req := httptest.NewRequest(http.MethodPost, "/switchyard", strings.NewReader(string(body)))
		req.Header.Set(notify.SignatureHeader, sig)
		req.Header.Set(notify.EventHeader, "rollback")
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// verified: rollback
	// 200
	// 401
}
