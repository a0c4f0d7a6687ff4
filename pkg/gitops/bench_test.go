package gitops

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
)

// BenchmarkRollbackToRemote measures a rollback outcome from WriteOutcome
// to the revert commit on the remote (fetch, revert, push) against a real
// git http-backend on 127.0.0.1.
func BenchmarkRollbackToRemote(b *testing.B) {
	srv := gittest.NewServer(b)
	url := srv.CreateRepo("specs", map[string]string{fraudFile: fraudSpec})
	r, err := Open(context.Background(), Options{URL: url, Dir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		srv.CommitAs("specs", "promote fraud v8", map[string]string{fraudFile: setServe(fraudSpec, "v8")})
		b.StartTimer()
		w, err := r.WriteOutcomeDetail(ctx, rollback())
		if err != nil || !w.Revert {
			b.Fatalf("%+v %v", w, err)
		}
	}
}

// BenchmarkLastServeChange walks a history of 1,000 commits touching other
// files to find the commit that set serve.
func BenchmarkLastServeChange(b *testing.B) {
	srv := gittest.NewServer(b)
	url := srv.CreateRepo("specs", map[string]string{fraudFile: fraudSpec})
	srv.CommitAs("specs", "promote fraud v8", map[string]string{fraudFile: setServe(fraudSpec, "v8")})
	// 1,000 commits on top, each touching only notes.txt, in one fast-import.
	var stream strings.Builder
	for i := 1; i <= 1000; i++ {
		msg := fmt.Sprintf("note %d", i)
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter X <x@x> %d +0000\ndata %d\n%s\n", 1700000000+i, len(msg), msg)
		if i == 1 {
			stream.WriteString("from refs/heads/main^0\n")
		}
		content := fmt.Sprintf("%d\n", i)
		fmt.Fprintf(&stream, "M 100644 inline notes.txt\ndata %d\n%s\n", len(content), content)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = srv.RepoPath("specs")
	cmd.Stdin = strings.NewReader(stream.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v: %s", err, out)
	}
	r, err := Open(context.Background(), Options{URL: url, Dir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := r.LastServeChange(context.Background(), fraudFile, "fraud", "production")
		if err != nil || c.Title != "promote fraud v8" {
			b.Fatalf("%+v %v", c, err)
		}
	}
}
