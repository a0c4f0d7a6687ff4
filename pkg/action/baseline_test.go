package action

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/commitid"
)

// TestPullRequestValidationBaseline runs the candidate and the serving
// version on the same rows (baseline = "serve") and shows both figures
// side by side in the plan comment; max_regression fails a candidate worse
// than the serving version even when it clears min.
func TestPullRequestValidationBaseline(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		candWrong, baseWrong int
		wantCode             int
		want                 string
	}{
		{"better", 0, 5, ExitOK, "✅ `v8`: accuracy 1 (want ≥ 0.5) vs `v7` (serving) accuracy 0.8: `v8` 0.2 better (want ≤ 0.01 worse)"},
		{"regression", 4, 0, ExitFailed, "❌ `v8`: accuracy 0.75 (want ≥ 0.5) vs `v7` (serving) accuracy 1: `v8` 0.25 worse (want ≤ 0.01 worse)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cand, serving := fraudModel(t, tc.candWrong), fraudModel(t, tc.baseWrong)
			gh := newFakeGitHub(t)
			r := newTestRepo(t)
			files := fixture(t, cand.URL)
			src := *files["rollouts/fraud.hcl"]
			// production's v7 (the serving version) answers at serving's /predict.
			i := strings.Index(src, `model "fraud" "production"`)
			prod := strings.Replace(src[i:], `version "v7" { url = "http://127.0.0.1:9101" }`,
				`version "v7" { url = "`+serving.URL+`/predict" }`, 1)
			prod = strings.Replace(prod, "      min             = 0.9\n",
				"      min             = 0.5\n      baseline        = \"serve\"\n      max_regression  = 0.01\n", 1)
			files["rollouts/fraud.hcl"] = ptr(src[:i] + prod)
			base := r.commit("Add the fraud and search models", files)
			r.branch("main", base)
			head := r.commit("Promote fraud v8 to production", map[string]*string{
				"rollouts/fraud.hcl": ptr(src[:i] + strings.Replace(prod, `serve  = "v7"`, `serve  = "v8"`, 1))})
			r.checkout(head)
			res := runAction(t, baseConfig(t, gh, r.dir, "pull_request", prEventFile(t, "pull_request.opened", base, head)))
			if res.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s\n%s", res.code, tc.wantCode, res.stdout, res.stderr)
			}
			plans := gh.planComments()
			if len(plans) != 1 {
				t.Fatalf("want one plan comment, got %d", len(plans))
			}
			repl := map[string]string{commitid.Short(base): "BASE", commitid.Short(head): "HEAD", cand.URL: "MODEL_URL", serving.URL: "SERVING_URL"}
			body := normalize(plans[0].Body, repl)
			if !strings.Contains(body, tc.want) {
				t.Errorf("comment lacks %q", tc.want)
			}
			golden(t, "baseline-"+tc.name+".comment.md", body)
		})
	}
}
