package wiring_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/browsertest"
)

// TestE2EStatusPageInChromium loads the status page in a real browser
// against a reconciler in the middle of a canary and reads what it drew.
func TestE2EStatusPageInChromium(t *testing.T) {
	bin := browsertest.Chromium(t)
	const token = "page-t0ken"
	e := newE2EWith(t, e2eOptions{StatusToken: token})
	e.bake = "10m" // the canary stays at its first step while the browser looks
	e.push("Promote fraud v2", "v2", "[10, 50]")
	e.waitFor("the canary at 10% with a few measurements", func() bool {
		st := e.run.Daemon.Status()
		if len(st.Models) == 0 || st.Models[0].Rollout() != "v1→v2" || weight(st.Models[0], "v2") != 10 {
			return false
		}
		for _, m := range st.Models[0].Measurements {
			if m.Check == "errors" && len(m.History) >= 3 {
				return true
			}
		}
		return false
	})
	base := "http://" + e.run.Addr + "/"

	for _, tc := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer wrong", http.StatusUnauthorized}, {"Bearer " + token, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, base+"api/status", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /api/status with %q: %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
	}

	// Without the token the page asks for it and shows nothing else.
	dom := browsertest.Run(t, bin, "--dump-dom", base)
	if !regexp.MustCompile(`<form id="login" class="login">`).MatchString(dom) || strings.Contains(dom, `data-model=`) {
		t.Errorf("without a token the page should ask for it and show no model:\n%s", dom)
	}

	// With the token (a link carrying it in the fragment, kept in
	// sessionStorage) it draws the rollout.
	dom = browsertest.Run(t, bin, "--dump-dom", base+"#token="+token)
	for _, want := range []string{
		`data-model="fraud/production"`,         // the model
		`class="badge phase phase-progressing"`, // its phase
		`>progressing<`,
		`>v1 → v2<`,        // the rollout
		`step 1 of 3`,      // its step
		`v1 90%`, `v2 10%`, // the split
		`data-check="errors"`, // a check
		`data-event="started"`,
		`data-last-event="started"`, // the model's latest event, in its card
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if !regexp.MustCompile(`<polyline class="values" points="[0-9.]+,[0-9.]+ [0-9.]+,[0-9.]+`).MatchString(dom) {
		t.Errorf("no chart drawn (an svg polyline of at least two measurements)")
	}
	if !regexp.MustCompile(`<line class="limit"`).MatchString(dom) {
		t.Errorf("the chart lacks the check's threshold")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	dir := t.TempDir()
	for _, shot := range []struct{ name, size string }{{"status-page.png", "1280,900"}, {"status-page-narrow.png", "390,844"}} {
		f := filepath.Join(dir, shot.name)
		browsertest.Run(t, bin, base+"#token="+token, "--screenshot="+f, "--window-size="+shot.size, "--hide-scrollbars")
		if info, err := os.Stat(f); err != nil || info.Size() < 1000 {
			t.Errorf("screenshot %s: %v", f, err)
			continue
		}
		t.Logf("screenshot: %s", f)
	}
}
