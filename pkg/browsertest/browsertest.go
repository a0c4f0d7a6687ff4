// Package browsertest runs headless Chromium for tests that read what a
// page really renders: its DOM after the page's scripts ran, or a
// screenshot.
package browsertest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Chromium finds Debian's chromium, or skips the test when it is absent.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// Run runs headless Chromium (bin) on url with extra flags, with 5 s of
// virtual time for the page's scripts, and returns its standard output:
// the DOM with "--dump-dom". It fails the test when Chromium fails.
func Run(t testing.TB, bin, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=5000"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, errOut.String())
	}
	return out.String()
}
