// Package grpctest runs a real gRPC predict service and client for tests:
// Debian's python3-grpcio with testdata/grpc_predict.py (no generated
// stubs), started on 127.0.0.1 by the test and stopped when it ends.
// Tests skip when /usr/bin/python3 or its grpc module is absent.
package grpctest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Python is Debian's interpreter, whose python3-grpcio a pyenv one lacks.
const Python = "/usr/bin/python3"

// Script is the path of testdata/grpc_predict.py, skipping t when gRPC's
// Python is not installed.
func Script(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Skip("needs /usr/bin/python3 with python3-grpcio (apt-get install python3-grpcio)")
	}
	if err := exec.Command(Python, "-c", "import grpc").Run(); err != nil {
		t.Skip("needs python3-grpcio (apt-get install python3-grpcio)")
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "grpc_predict.py")
}

// Serve starts the predict service as version, failing every Predict
// with status fail when it is not 0, and returns its host:port.
func Serve(t testing.TB, version string, fail int) string {
	t.Helper()
	cmd := exec.Command(Python, Script(t), "serve", version, "--fail", fmt.Sprint(fail))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server stops when its stdin closes
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var port int
	if _, scanErr := fmt.Sscanf(line, "PORT %d", &port); err != nil || scanErr != nil {
		t.Fatalf("gRPC server %s: %q %v", version, line, err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Result is one call made by the client.
type Result struct {
	Answers  []string          `json:"answers"`
	Code     string            `json:"code"` // the status code's name: OK, INTERNAL...
	Details  string            `json:"details"`
	Trailers map[string]string `json:"trailers"`
}

// Call calls Predict through target (host:port) with message; args are
// the client's flags: --ca FILE (TLS), --meta KEY=VALUE, --count N,
// --stream (server streaming), --chat K (bidirectional, in lockstep).
func Call(t testing.TB, target, message string, args ...string) []Result {
	t.Helper()
	out, err := exec.Command(Python, append([]string{Script(t), "call", target, message}, args...)...).Output()
	if err != nil {
		t.Fatalf("gRPC client: %v: %s", err, out)
	}
	var rs []Result
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var r Result
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("gRPC client printed %q: %v", out, err)
		}
		rs = append(rs, r)
	}
	return rs
}
