package action

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchModel is one production model with a canary rollout and two checks.
func benchModel(i int, serve string) string {
	return fmt.Sprintf(`model "m%04d" "production" {
  router = "edge"
  path   = "/v1/m%04d"
  serve  = %q

  version "v1" { url = "https://m%04d-v1.models.internal" }
  version "v2" { url = "https://m%04d-v2.models.internal" }

  rollout {
    strategy = "canary"
    steps    = [5, 25, 50]
    bake     = "1m"
  }

  check "errors" {
    metric       = "error_rate"
    max          = 0.01
    min_requests = 50
  }

  check "latency" {
    metric    = "latency_p99"
    max_ratio = 1.2
  }
}

`, i, i, serve, i, i)
}

// benchRepo is a workspace with `models` production models in files of 10
// and the project's default policies; the PR head promotes `changed` of
// them (spread over the files) from v1 to v2.
func benchRepo(tb testing.TB, models, changed int) (*testRepo, string, string) {
	r := newTestRepo(tb)
	files := map[string]*string{"rollouts/routers.hcl": ptr("router \"edge\" {\n  type   = \"builtin\"\n  listen = \"127.0.0.1:8080\"\n}\n")}
	render := func(promoted map[int]bool) map[string]*string {
		out := map[string]*string{}
		for f := 0; f < models/10; f++ {
			var b strings.Builder
			for i := f * 10; i < f*10+10; i++ {
				serve := "v1"
				if promoted[i] {
					serve = "v2"
				}
				b.WriteString(benchModel(i, serve))
			}
			out[fmt.Sprintf("rollouts/team%02d/models.hcl", f)] = ptr(b.String())
		}
		return out
	}
	for k, v := range render(nil) {
		files[k] = v
	}
	// The project's default policies, as a repository would vendor them.
	pols, _ := filepath.Glob(filepath.Join("..", "..", "policies", "*.rego"))
	for _, p := range pols {
		if strings.HasSuffix(p, "_test.rego") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		files["policies/"+filepath.Base(p)] = ptr(string(b))
	}
	base := r.commit("1,000 models", files)
	promoted := map[int]bool{}
	step := models / changed
	for i := 0; i < changed; i++ {
		promoted[i*step+i%10] = true
	}
	all := render(promoted)
	head := map[string]*string{}
	for k, v := range all {
		if *v != *files[k] {
			head[k] = v
		}
	}
	h := r.commit(fmt.Sprintf("Promote %d models", changed), head)
	return r, base, h
}

// BenchmarkPullRequest is the action on a pull request that promotes 50
// models in a 1,000-model repository, offline validation excluded: Git
// reads, two spec loads, the diff, policies from the base, the comment
// (split in parts), the check run and the summary, against a fake GitHub.
func BenchmarkPullRequest(b *testing.B) {
	gh := newFakeGitHub(b)
	r, base, head := benchRepo(b, 1000, 50)
	ev := prEventFile(b, "pull_request.opened", base, head)
	cfg := baseConfig(b, gh, r.dir, "pull_request", ev)
	cfg.OfflineValidation = false
	cfg.Stdout, cfg.Stderr = io.Discard, io.Discard
	dir := b.TempDir()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg.SummaryPath = filepath.Join(dir, fmt.Sprintf("summary%d", i))
		cfg.OutputPath = filepath.Join(dir, fmt.Sprintf("output%d", i))
		if code := Run(b.Context(), cfg); code == ExitEnvironment {
			b.Fatalf("exit %d", code)
		}
	}
	b.StopTimer()
	// CPU seconds per run: on a shared, loaded machine wall time says more
	// about the neighbours than about the action.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	if b.Failed() {
		b.Fatal("the fake GitHub saw a bad request")
	}
}

// TestBenchRepo checks that the benchmark's repository is what it claims.
func TestBenchRepo(t *testing.T) {
	gh := newFakeGitHub(t)
	r, base, head := benchRepo(t, 100, 5)
	cfg := baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head))
	cfg.OfflineValidation = false
	res := runAction(t, cfg)
	if res.code == ExitEnvironment {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if n := strings.Count(res.outputs, `"kind":"change"`); n != 5 {
		t.Fatalf("%d changes, want 5\n%s", n, res.stderr)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
