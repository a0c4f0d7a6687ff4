// Package gittest runs a real Git smart-HTTP server for tests: Debian's
// `git http-backend` behind net/http/cgi on 127.0.0.1, serving bare
// repositories under a temp dir, pushable, stoppable and restartable on
// the same address; and a fake of the GitHub API's pull requests (Pulls),
// whose branches are pushed to that server.
package gittest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a Git smart-HTTP server for one test.
type Server struct {
	t       testing.TB
	root    string // GIT_PROJECT_ROOT: the bare repositories
	home    string // HOME for every git command, so no user config leaks in
	backend string
	addr    string

	mu       sync.Mutex
	srv      *http.Server
	user     string
	password string
	pushes   int
	onPush   func()
}

// Option configures a Server.
type Option func(*Server)

// WithBasicAuth makes the server require HTTP basic auth with this user
// and password (a token is sent as the password).
func WithBasicAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// NewServer starts a server; it stops when the test ends. The test is
// skipped when git or git-http-backend is not installed.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	backend := findBackend(t)
	s := &Server{t: t, root: t.TempDir(), home: t.TempDir(), backend: backend}
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gittest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func findBackend(t testing.TB) string {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("gittest: git is not installed (apt-get install git); skipping a test that needs a real Git server")
	}
	out, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		t.Skipf("gittest: git --exec-path failed: %v; skipping", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("gittest: %s not found; skipping a test that needs git-http-backend", backend)
	}
	return backend
}

func (s *Server) serve(ln net.Listener) {
	h := &cgi.Handler{
		Path:   s.backend,
		Stderr: io.Discard, // "Not a git repository" for missing repos is expected noise

		Env: []string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + s.home,
			"GIT_CONFIG_NOSYSTEM=1",
		},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != s.user || p != s.password {
				w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.mu.Lock()
			s.pushes++
			s.mu.Unlock()
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("service") == "git-receive-pack" {
			s.mu.Lock()
			hook := s.onPush
			s.onPush = nil
			s.mu.Unlock()
			if hook != nil {
				hook()
			}
		}
		h.ServeHTTP(w, r)
	})}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// BeforeNextPush runs f once, when the next push starts (before the
// server advertises its refs): a test can have someone else push in
// between, so that the push is rejected as non-fast-forward, or Stop the
// server mid-push. f runs on the server's goroutine, not the test's.
func (s *Server) BeforeNextPush(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPush = f
}

// Stop closes the listener and every connection: clients see the server
// down. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Start serves again on the same address after Stop.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("gittest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// URL is the server's base URL, without a trailing slash.
func (s *Server) URL() string { return "http://" + s.addr }

// RepoURL is the clone URL of the repository name.
func (s *Server) RepoURL(name string) string { return s.URL() + "/" + name + ".git" }

// RepoPath is the bare repository's directory on disk.
func (s *Server) RepoPath(name string) string { return filepath.Join(s.root, name+".git") }

// Pushes counts receive-pack requests so far (attempted pushes).
func (s *Server) Pushes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes
}

// CreateRepo creates a bare repository whose branch main has one commit
// with files (path -> content), and returns its clone URL.
func (s *Server) CreateRepo(name string, files map[string]string) string {
	s.t.Helper()
	bare := s.RepoPath(name)
	s.git("", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	s.git(bare, "config", "http.receivepack", "true")
	work := s.t.TempDir()
	s.git(work, "init", "--quiet", "--initial-branch=main")
	s.writeFiles(work, files)
	s.git(work, "add", "-A")
	s.git(work, "commit", "--quiet", "-m", "Initial specs")
	s.git(work, "push", "--quiet", bare, "main")
	return s.RepoURL(name)
}

// CommitAs commits files (path -> content; "" deletes the file) on main as
// "Someone Else" with message, pushing straight into the bare repository,
// and returns the new commit's sha. It works while the server is stopped.
func (s *Server) CommitAs(name, message string, files map[string]string) string {
	s.t.Helper()
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--branch", "main", s.RepoPath(name), work)
	s.writeFiles(work, files)
	s.git(work, "add", "-A")
	s.git(work, "commit", "--quiet", "-m", message)
	s.pushMain(work)
	return strings.TrimSpace(s.git(work, "rev-parse", "HEAD"))
}

// MergeAs commits files on a new branch off main as "Someone Else", then
// merges it into main with a merge commit titled message (like a merged
// pull request), and returns the merge commit's sha.
func (s *Server) MergeAs(name, branch, message string, files map[string]string) string {
	s.t.Helper()
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--branch", "main", s.RepoPath(name), work)
	s.git(work, "checkout", "--quiet", "-b", branch)
	s.writeFiles(work, files)
	s.git(work, "add", "-A")
	s.git(work, "commit", "--quiet", "-m", "change on "+branch)
	s.git(work, "checkout", "--quiet", "main")
	s.git(work, "merge", "--quiet", "--no-ff", "-m", message, branch)
	s.pushMain(work)
	return strings.TrimSpace(s.git(work, "rev-parse", "HEAD"))
}

// AppendNote appends note as a line of commit's note under
// refs/notes/switchyard, as "Someone Else" in a clone, and pushes that ref
// alone (no branch moves), as the GitHub Action or a person adds a verdict
// after the fact. A push that loses a race for the notes ref (a reconciler
// pushing its own verdicts) fetches the notes again and tries again.
func (s *Server) AppendNote(name, commit, note string) {
	s.t.Helper()
	const ref = "refs/notes/switchyard"
	work := s.t.TempDir()
	s.git("", "clone", "--quiet", "--no-checkout", s.RepoPath(name), work)
	var err error
	for attempt := 1; attempt <= 10; attempt++ {
		if _, ferr := s.run(work, "fetch", "--quiet", "origin", "+"+ref+":"+ref); ferr != nil {
			// No notes on the remote yet: the first note makes the ref.
			_, _ = s.run(work, "update-ref", "-d", ref)
		}
		s.git(work, "notes", "--ref", "switchyard", "append", "-m", note, commit)
		if _, err = s.run(work, "push", "--quiet", "origin", ref+":"+ref); err == nil {
			return
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
	}
	s.t.Fatalf("gittest: %v", err)
}

// Head returns the sha of main in the bare repository.
func (s *Server) Head(name string) string {
	s.t.Helper()
	return strings.TrimSpace(s.git(s.RepoPath(name), "rev-parse", "refs/heads/main"))
}

// Show returns `git show REV:PATH` from the bare repository.
func (s *Server) Show(name, rev, path string) string {
	s.t.Helper()
	return s.git(s.RepoPath(name), "show", rev+":"+path)
}

// Git runs git with args in the bare repository and returns its stdout;
// the test fails if git does.
func (s *Server) Git(name string, args ...string) string {
	s.t.Helper()
	return s.git(s.RepoPath(name), args...)
}

// TryGit is Git that returns the error instead of failing the test.
func (s *Server) TryGit(name string, args ...string) (string, error) {
	return s.run(s.RepoPath(name), args...)
}

// pushMain pushes work's main into the bare repository. A reconciler under
// test may be updating main (or holding its lock) at the same moment: a
// push that fails is rebased onto the new main and tried again, a few
// times.
func (s *Server) pushMain(work string) {
	s.t.Helper()
	var err error
	for attempt := 1; attempt <= 10; attempt++ {
		if _, err = s.run(work, "push", "--quiet", "origin", "main"); err == nil {
			return
		}
		time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		if _, perr := s.run(work, "pull", "--quiet", "--rebase=merges", "origin", "main"); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	s.t.Fatalf("gittest: %v", err)
}

func (s *Server) git(dir string, args ...string) string {
	s.t.Helper()
	out, err := s.run(dir, args...)
	if err != nil {
		s.t.Fatalf("gittest: %v", err)
	}
	return out
}

func (s *Server) run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+s.home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Someone Else", "GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=Someone Else", "GIT_COMMITTER_EMAIL=someone@example.com",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s (in %s): %v: %s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return stdout.String(), nil
}

func (s *Server) writeFiles(dir string, files map[string]string) {
	s.t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if files[p] == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				s.t.Fatalf("gittest: %v", err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			s.t.Fatalf("gittest: %v", err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			s.t.Fatalf("gittest: %v", err)
		}
	}
}
