package gitops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerifyGitHubSignature(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := sign("s3cret", string(body))
	tests := []struct {
		name   string
		secret string
		header string
		want   bool
	}{
		{"good", "s3cret", good, true},
		{"wrong secret", "other", good, false},
		{"no prefix", "s3cret", strings.TrimPrefix(good, "sha256="), false},
		{"sha1", "s3cret", "sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"not hex", "s3cret", "sha256=zz", false},
		{"empty header", "s3cret", "", false},
		{"empty secret", "", sign("", string(body)), false},
	}
	for _, tc := range tests {
		if got := VerifyGitHubSignature([]byte(tc.secret), body, tc.header); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestWebhookHandler(t *testing.T) {
	push := `{"ref":"refs/heads/main","after":"abc"}`
	other := `{"ref":"refs/heads/feature"}`
	tests := []struct {
		name, method, event, body, sig string
		wantCode                       int
		wantTrigger                    bool
	}{
		{"push to main", "POST", "push", push, sign("s3cret", push), 202, true},
		{"push to another branch", "POST", "push", other, sign("s3cret", other), 202, false},
		{"ping", "POST", "ping", `{"zen":"x"}`, sign("s3cret", `{"zen":"x"}`), 200, false},
		{"other event", "POST", "issues", `{}`, sign("s3cret", `{}`), 202, false},
		{"bad signature", "POST", "push", push, sign("wrong", push), 401, false},
		{"missing signature", "POST", "push", push, "", 401, false},
		{"tampered body", "POST", "push", push + " ", sign("s3cret", push), 401, false},
		{"GET", "GET", "push", "", "", 405, false},
		{"not JSON", "POST", "push", "{", sign("s3cret", "{"), 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			triggered := 0
			h := &WebhookHandler{Secret: []byte("s3cret"), Branch: "main", Trigger: func() { triggered++ }}
			req := httptest.NewRequest(tc.method, "/webhook/github", strings.NewReader(tc.body))
			req.Header.Set("X-GitHub-Event", tc.event)
			if tc.sig != "" {
				req.Header.Set("X-Hub-Signature-256", tc.sig)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || (triggered == 1) != tc.wantTrigger || triggered > 1 {
				t.Fatalf("code %d (want %d), triggered %d (want %v): %s", rec.Code, tc.wantCode, triggered, tc.wantTrigger, rec.Body)
			}
		})
	}
	var _ http.Handler = (*WebhookHandler)(nil)
}
