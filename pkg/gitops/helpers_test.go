package gitops

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gitops/gittest"
	"github.com/switchyard-dev/switchyard/pkg/rollout"
)

const fraudFile = "rollouts/fraud.hcl"

const fraudSpec = `# Fraud scoring.
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7" # the live version

  version "v7" { url = "http://127.0.0.1:9102" }
  version "v8" { url = "http://127.0.0.1:9103" }
  version "rules" {
    url       = "http://127.0.0.1:9190"
    heuristic = true
  }

  rollout {
    strategy = "canary"
    steps    = [5, 25, 50]
  }
}
`

var fixedNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// sleeps records the backoff waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// setup starts a git server with the fraud spec and opens a clone of it.
func setup(t *testing.T, opts ...func(*Options)) (*gittest.Server, *Repo, *sleeps) {
	t.Helper()
	t.Parallel() // each test has its own server and clone
	srv := gittest.NewServer(t)
	url := srv.CreateRepo("specs", map[string]string{fraudFile: fraudSpec, "README.md": "specs\n"})
	sl := &sleeps{}
	o := Options{URL: url, Dir: filepath.Join(t.TempDir(), "clone"), Now: func() time.Time { return fixedNow }, Sleep: sl.sleep}
	for _, f := range opts {
		f(&o)
	}
	r, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return srv, r, sl
}

// promote has someone else set serve to v8 with the title "promote fraud v8".
func promote(t *testing.T, srv *gittest.Server) string {
	t.Helper()
	return srv.CommitAs("specs", "promote fraud v8", map[string]string{fraudFile: setServe(fraudSpec, "v8")})
}

func setServe(src, v string) string {
	return strings.Replace(src, `serve  = "v7"`, `serve  = "`+v+`"`, 1)
}

func rollback() rollout.WriteCommit {
	return rollout.WriteCommit{
		Kind: ActionRollback, Model: "fraud", Stage: "production", File: fraudFile,
		From: "v8", To: "v7",
		Reason: `check "errors" failed: error_rate 0.052 > max 0.01 at step 2 of 4 (25% traffic), 3 of 3 measurements.`,
	}
}

func mustFetch(t *testing.T, r *Repo) string {
	t.Helper()
	sha, _, err := r.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sha
}
