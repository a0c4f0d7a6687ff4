package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExampleModelServesUntilInterrupted runs the command as
// docs/getting-started.md does, asks it a question, and interrupts it.
func TestExampleModelServesUntilInterrupted(t *testing.T) {
	addr := freeTCPAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- cmdExampleModel(ctx, &env{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }},
			[]string{"--listen", addr, "--version", "v2", "--error-rate", "0.5"})
	}()
	var resp *http.Response
	var err error
	for i := 0; i < 200; i++ {
		resp, err = http.Post("http://"+addr+"/predict", "application/json", strings.NewReader(`{"amount": 170}`))
		if err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the example model never answered: %v\n%s", err, stderr.String())
	}
	codes := map[int]int{}
	for i := 0; ; i++ {
		var a struct{ Label string }
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Label != "fraud" || resp.Header.Get("X-Model-Version") != "v2" {
				t.Errorf("answer %+v (%v), version %q", a, err, resp.Header.Get("X-Model-Version"))
			}
		}
		resp.Body.Close()
		if i == 9 {
			break
		}
		if resp, err = http.Post("http://"+addr+"/predict", "application/json", strings.NewReader(`{"amount": 170}`)); err != nil {
			t.Fatal(err)
		}
	}
	if codes[200] != 5 || codes[500] != 5 {
		t.Errorf("answers %v, want five 200s and five 500s with --error-rate 0.5", codes)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after the interrupt", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the example model did not stop")
	}
	if !strings.Contains(stderr.String(), "example model v2 on http://"+addr) {
		t.Errorf("it does not say where it serves:\n%s", stderr.String())
	}
}

func TestExampleModelUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--listen", "127.0.0.1:0", "--error-rate", "1.5"}, {"--listen", "127.0.0.1:0", "extra"}} {
		if code, _, stderr := runCommand(t, cmdExampleModel, args...); code != exitUsage || stderr == "" {
			t.Errorf("example-model %v: exit %d, stderr %q; want 2 and a reason", args, code, stderr)
		}
	}
}
