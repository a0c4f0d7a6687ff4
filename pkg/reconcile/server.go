package reconcile

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the reconciler's HTTP surface (SPEC.md §4, §9): the
// status page at /, /api/status, /metrics, and the webhook handler given
// (nil: no webhook). Wrap it in RequireToken to put it behind a token.
func (d *Daemon) Handler(webhook http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.deps.Metrics.Registry, promhttp.HandlerOpts{}))
	page := pageHandler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /ui/", page)
	if webhook != nil {
		mux.Handle("POST /webhook/github", webhook)
	}
	return mux
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
