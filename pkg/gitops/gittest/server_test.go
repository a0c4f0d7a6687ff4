package gittest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestServerCloneStopStart(t *testing.T) {
	s := NewServer(t)
	url := s.CreateRepo("specs", map[string]string{"rollouts/a.hcl": "x = 1\n"})
	dir := t.TempDir()
	if out, err := exec.Command("git", "clone", "--quiet", url, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone over HTTP: %v: %s", err, out)
	}
	sha := s.CommitAs("specs", "change a", map[string]string{"rollouts/a.hcl": "x = 2\n"})
	if s.Head("specs") != sha {
		t.Fatalf("head %s, want %s", s.Head("specs"), sha)
	}
	if got := s.Show("specs", "main", "rollouts/a.hcl"); got != "x = 2\n" {
		t.Fatalf("show = %q", got)
	}

	s.Stop()
	if out, err := exec.Command("git", "-C", dir, "fetch", "--quiet").CombinedOutput(); err == nil {
		t.Fatalf("fetch from a stopped server succeeded: %s", out)
	}
	s.Start()
	if out, err := exec.Command("git", "-C", dir, "pull", "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("pull after restart: %v: %s", err, out)
	}
	// Push over HTTP works (http.receivepack is enabled).
	for _, args := range [][]string{
		{"-c", "user.name=T", "-c", "user.email=t@x", "commit", "--quiet", "--allow-empty", "-m", "empty"},
		{"push", "--quiet", "origin", "main"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	if s.Pushes() != 1 {
		t.Fatalf("pushes = %d, want 1", s.Pushes())
	}
	if !strings.Contains(s.Git("specs", "log", "--format=%s", "-1"), "empty") {
		t.Fatal("pushed commit not on the server")
	}
}

func TestServerBasicAuth(t *testing.T) {
	s := NewServer(t, WithBasicAuth("x-access-token", "s3cret"))
	url := s.CreateRepo("specs", map[string]string{"a": "1\n"})
	cmd := exec.Command("git", "clone", "--quiet", url, t.TempDir())
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	if err := cmd.Run(); err == nil {
		t.Fatal("clone without credentials succeeded")
	}
	authURL := strings.Replace(url, "http://", "http://x-access-token:s3cret@", 1)
	if out, err := exec.Command("git", "clone", "--quiet", authURL, t.TempDir()).CombinedOutput(); err != nil {
		t.Fatalf("clone with credentials: %v: %s", err, out)
	}
}
