package docs_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/notify"
	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// TestGettingStartedReceiverVerifiesRealDeliveries runs the webhook
// receiver of docs/getting-started.md with python3 and has the
// reconciler's own dispatcher deliver a rollback to it: the receiver
// prints it, and refuses a delivery signed with another secret.
func TestGettingStartedReceiverVerifiesRealDeliveries(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("python3 is not installed")
	}
	var src string
	for _, ex := range fencedBlocks("docs/getting-started.md", read(t, "docs/getting-started.md"), "python") {
		if strings.Contains(ex.src, "HTTPServer") {
			src = ex.src
		}
	}
	if !strings.Contains(src, `("127.0.0.1", 9200)`) {
		t.Fatalf("docs/getting-started.md has no python receiver listening on 127.0.0.1:9200:\n%s", src)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	file := filepath.Join(t.TempDir(), "receiver.py")
	if err := os.WriteFile(file, []byte(strings.Replace(src, "9200", port, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, file)
	cmd.Env = append(os.Environ(), "SWITCHYARD_NOTIFY_SECRET=tr1al-secret")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://127.0.0.1:" + port + "/"
	for i := 0; ; i++ {
		resp, err := http.Get(url) // the receiver answers GET with 501: it is up
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 400 {
			t.Fatalf("the receiver never listened: %v\n%s", err, stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}

	logs := make(logLines, 16)
	secrets := map[string]string{"GOOD": "tr1al-secret", "BAD": "another-secret"}
	d := notify.New(notify.Config{Attempts: 1}, notify.Deps{Getenv: func(k string) string { return secrets[k] },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); d.Run(runCtx) }()
	defer func() { stop(); <-ran }()
	block := func(env string) map[string]*spec.Notify {
		return map[string]*spec.Notify{"ops": {Name: "ops", Type: "webhook", URL: url, SecretEnv: env, Events: spec.NotifyEvents}}
	}
	ev := notify.Event{Event: "rollback", Model: "fraud", Stage: "production", From: "v2", To: "v1",
		Reason: `check "errors" failed: error_rate 0.3 > max 0.01`, Commit: "3f2a9c1e5b7d8a0c1e2f3a4b5c6d7e8f9a0b1c2d", At: time.Now()}
	d.Notify(block("BAD"), ev)
	d.Notify(block("GOOD"), ev)

	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		want := `webhook: rollback fraud/production v2 -> v1 commit 3f2a9c1e -- check "errors" failed: error_rate 0.3 > max 0.01`
		if line != want {
			t.Errorf("the receiver printed\n  %s\nwant\n  %s", line, want)
		}
	case <-ctx.Done():
		t.Fatalf("the receiver printed nothing\n%s", stderr.String())
	}
	var ended []string
	for len(ended) < 2 {
		select {
		case l := <-logs:
			ended = append(ended, l)
		case <-ctx.Done():
			t.Fatalf("the two deliveries never ended; log:\n%s", ended)
		}
	}
	log := strings.Join(ended, "")
	if strings.Count(log, "notification failed") != 1 || !strings.Contains(log, "answered 401") ||
		strings.Count(log, "notification delivered") != 1 {
		t.Errorf("want the delivery signed with another secret refused (401) and the other delivered; log:\n%s", log)
	}
	select {
	case line := <-lines:
		t.Errorf("the receiver printed a second event (the forged one?): %s", line)
	default:
	}
}

// logLines hands each line the logger writes to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}
