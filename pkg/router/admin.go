package router

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// MaxTableBytes bounds the body of PUT /v1/routes.
const MaxTableBytes = 4 << 20

// NewAdminHandler serves a router's admin API (SPEC.md §5): PUT and GET
// /v1/routes, GET /v1/stats?window=10s and GET /metrics. Every call needs
// "Authorization: Bearer <token>"; with an empty token every call is
// refused.
func NewAdminHandler(r *Router, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/routes", func(w http.ResponseWriter, req *http.Request) {
		var t traffic.Table
		dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, MaxTableBytes))
		if err := dec.Decode(&t); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "routing table is larger than the limit of 4 MiB")
				return
			}
			writeError(w, http.StatusBadRequest, "routing table is not valid JSON: "+err.Error())
			return
		}
		if err := r.Update(t); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		c := r.table.Load()
		setETag(w, c.table.Generation)
		if preferMinimal(req) {
			// A fleet's reconciler has the table already: echoing tens of
			// thousands of routes back to it is wasted work.
			w.Header().Set("Preference-Applied", "return=minimal")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, copyTable(c.table))
	})
	mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, req *http.Request) {
		c := r.table.Load()
		if since := r.ServingSince(); !since.IsZero() {
			// How long, not since when: the reader needs no clock of ours.
			w.Header().Set(traffic.ServingForHeader, strconv.FormatFloat(max(r.now().Sub(since), 0).Seconds(), 'f', 3, 64))
		}
		if setETag(w, c.table.Generation) && etagMatches(req.Header.Get("If-None-Match"), c.table.Generation) {
			// The reconciler checks every replica's generation every
			// pass: an unchanged one costs no table.
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeJSON(w, http.StatusOK, copyTable(c.table))
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		if q.Has("from") || q.Has("to") {
			// Whole seconds [from, to), Unix times: exact windows.
			from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
			to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
			if err1 != nil || err2 != nil || to < from {
				writeError(w, http.StatusBadRequest, "from and to must be Unix times in seconds with from <= to, got from="+q.Get("from")+" to="+q.Get("to"))
				return
			}
			// One model at one stage, or every model.
			model, stage := q.Get("model"), q.Get("stage")
			if (model == "") != (stage == "") {
				writeError(w, http.StatusBadRequest, "model and stage go together: give both (one model at one stage) or neither (every model), got model="+model+" stage="+stage)
				return
			}
			writeJSON(w, http.StatusOK, r.ModelStatsRange(model, stage, time.Unix(from, 0), time.Unix(to, 0)))
			return
		}
		window := 10 * time.Second
		if s := req.URL.Query().Get("window"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				writeError(w, http.StatusBadRequest, "window must be a positive duration such as 10s or 1m, got "+s)
				return
			}
			window = d
		}
		writeJSON(w, http.StatusOK, r.Stats(window))
	})
	mux.HandleFunc("POST /v1/stats", func(w http.ResponseWriter, req *http.Request) {
		// Many models' windows in one request: what the reconciler reads
		// once a pass, instead of one request per model.
		var b traffic.StatsBatch
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, MaxTableBytes)).Decode(&b); err != nil {
			writeError(w, http.StatusBadRequest, "stats queries are not valid JSON: "+err.Error())
			return
		}
		out := traffic.StatsBatchAnswer{Stats: make([]traffic.Stats, len(b.Queries))}
		for i, q := range b.Queries {
			if q.Model == "" || q.Stage == "" || q.To < q.From {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("query %d: model and stage are required, and from <= to (Unix seconds)", i))
				return
			}
			out.Stats[i] = r.ModelStatsRange(q.Model, q.Stage, time.Unix(q.From, 0), time.Unix(q.To, 0))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.Handle("GET /metrics", r.MetricsHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin endpoint: "+req.Method+" "+req.URL.Path)
	})
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got := []byte(req.Header.Get("Authorization"))
		// Compare the scheme case-insensitively and the token exactly, in
		// constant time: hashing first hides the token's length too.
		if len(got) > len("Bearer ") && strings.EqualFold(string(got[:len("Bearer ")]), "Bearer ") {
			copy(got, "Bearer ")
		}
		gotSum := sha256.Sum256(got)
		if token == "" || subtle.ConstantTimeCompare(gotSum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		mux.ServeHTTP(w, req)
	})
}

// setETag names a numbered table by its generation (`ETag: "12"`); a table
// without one (0) has no ETag, since unnumbered tables share it. It says
// whether it set one.
func setETag(w http.ResponseWriter, gen uint64) bool {
	if gen == 0 {
		return false
	}
	w.Header().Set("ETag", `"`+strconv.FormatUint(gen, 10)+`"`)
	return true
}

// etagMatches reports whether an If-None-Match header names generation gen
// (RFC 9110 §13.1.2: a list of entity tags, weak ones compared weakly, or
// "*").
func etagMatches(header string, gen uint64) bool {
	want := `"` + strconv.FormatUint(gen, 10) + `"`
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == want || tag == "*" {
			return true
		}
	}
	return false
}

// preferMinimal reports whether the request asks for no body in the answer
// (RFC 7240 `Prefer: return=minimal`).
func preferMinimal(req *http.Request) bool {
	for _, v := range req.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "return=minimal") {
				return true
			}
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
