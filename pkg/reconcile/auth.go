package reconcile

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireToken puts every endpoint of h behind `Authorization: Bearer
// <token>` (`reconciler run --status-token-env`), except the push webhook,
// which GitHub signs instead, and the status page's static files, which
// hold no data: the page asks for the token and sends it on its fetches.
// An empty token leaves h open.
func RequireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open(r) {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			http.Error(w, "a bearer token is required (reconciler run --status-token-env)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// open reports whether r may go without the token.
func open(r *http.Request) bool {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/webhook/github":
		return true
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/ui/")
	}
	return false
}
