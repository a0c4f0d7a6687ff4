package gitops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// maxWebhookBody is GitHub's largest webhook payload (25 MB).
const maxWebhookBody = 25 << 20

// VerifyGitHubSignature checks an X-Hub-Signature-256 header
// ("sha256=<hex hmac>") against body with a constant-time compare. An
// empty secret verifies nothing.
func VerifyGitHubSignature(secret, body []byte, header string) bool {
	if len(secret) == 0 {
		return false
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// WebhookHandler serves POST /webhook/github: a verified push to Branch
// calls Trigger (which must not block, e.g. a non-blocking send on a
// buffered channel); a verified ping answers pong. A missing or bad
// signature gets 401 and triggers nothing.
type WebhookHandler struct {
	Secret  []byte
	Branch  string
	Trigger func()
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "payload too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if !VerifyGitHubSignature(h.Secret, body, r.Header.Get("X-Hub-Signature-256")) {
		http.Error(w, "bad or missing X-Hub-Signature-256", http.StatusUnauthorized)
		return
	}
	switch r.Header.Get("X-GitHub-Event") {
	case "ping":
		_, _ = io.WriteString(w, "pong\n")
	case "push":
		var ev struct {
			Ref string `json:"ref"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "push payload is not JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		if ev.Ref != "refs/heads/"+h.Branch {
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "ignored: push to "+ev.Ref+", following refs/heads/"+h.Branch+"\n")
			return
		}
		if h.Trigger != nil {
			h.Trigger()
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "fetch triggered\n")
	default:
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "ignored event\n")
	}
}
