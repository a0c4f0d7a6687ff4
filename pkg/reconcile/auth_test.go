package reconcile

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatusTokenGuardsEveryEndpointButTheWebhookAndThePageShell(t *testing.T) {
	h := newHarness(t)
	h.repo.commit("v1")
	h.run(1, 0)
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv := httptest.NewServer(RequireToken("t0ken", h.d.Handler(hook)))
	defer srv.Close()

	do := func(method, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/api/status", "/metrics"} {
		if code, _ := do("GET", path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, code)
		}
		if code, _ := do("GET", path, "Bearer wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, code)
		}
		if code, _ := do("GET", path, "t0ken"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with the token but not as a bearer: %d, want 401", path, code)
		}
		if code, body := do("GET", path, "Bearer t0ken"); code != http.StatusOK || body == "" {
			t.Errorf("GET %s with the token: %d, want 200", path, code)
		}
	}
	if code, body := do("GET", "/api/status", "Bearer t0ken"); !strings.Contains(body, `"model": "fraud"`) {
		t.Errorf("status with the token: %d %s", code, body)
	}
	if code, _ := do("POST", "/webhook/github", ""); code != http.StatusAccepted {
		t.Errorf("the webhook (signed, not token-guarded): %d", code)
	}
	code, body := do("GET", "/", "")
	if code != http.StatusOK || !strings.Contains(body, `src="/ui/app.js"`) || strings.Contains(body, "fraud") {
		t.Errorf("the page shell is open and holds no data: %d\n%s", code, body)
	}
	for _, asset := range []string{"/ui/app.js", "/ui/style.css"} {
		if code, body := do("GET", asset, ""); code != http.StatusOK || len(body) < 100 {
			t.Errorf("GET %s: %d (%d bytes)", asset, code, len(body))
		}
	}
	if code, _ := do("GET", "/ui/../api/status", ""); code == http.StatusOK {
		t.Errorf("a path under /ui/ reached the status without the token")
	}
	if code, _ := do("POST", "/api/status", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /api/status without the token: %d", code)
	}

	open := httptest.NewServer(RequireToken("", h.d.Handler(nil)))
	defer open.Close()
	resp, err := http.Get(open.URL + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("without --status-token-env the status is open: %d", resp.StatusCode)
	}
}
