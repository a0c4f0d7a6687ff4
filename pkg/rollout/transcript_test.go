package rollout

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// Transcripts are what an operator reads (events, commit reasons, routes)
// for whole scenarios, kept as golden files: go test ./pkg/rollout -run
// TestTranscripts -update rewrites them.
func TestTranscripts(t *testing.T) {
	shadowed := func() *spec.Model { return shadowModel() }
	tests := []struct {
		name  string
		model func() *spec.Model
		ticks []tick
	}{
		{"canary_success", func() *spec.Model { return baseModel(Canary) },
			concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 95, good))},
		{"canary_rollback", func() *spec.Model { return baseModel(Canary) },
			concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 35, good), every(45, 55, bad), []tick{{at: 65, serve: "v6", obs: none}})},
		{"blue_green", func() *spec.Model { return baseModel(BlueGreen) },
			concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 65, good), []tick{{at: 95, obs: none}})},
		{"paused_no_data", func() *spec.Model { return baseModel(AllAtOnce) },
			concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 45, quiet), every(55, 85, good))},
		{"fallback", func() *spec.Model {
			m := baseModel(Canary)
			m.Rollout.OnFailure, m.Rollout.Fallback = "fallback", "rules"
			return m
		}, []tick{adopted, {at: 5, serve: "v7", obs: none}, {at: 15, obs: bad}, {at: 25, serve: "rules", obs: none}}},
		{"roll_through", func() *spec.Model {
			m := baseModel(Canary)
			m.Rollout.OnFailure, m.Rollout.RollThrough = "roll_through", "v8"
			return m
		}, []tick{adopted, {at: 5, serve: "v7", obs: none}, {at: 15, obs: bad}, {at: 25, serve: "v8", obs: none}}},
		{"supersede_and_revert", func() *spec.Model { return baseModel(Canary) },
			concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 35, good), []tick{{at: 40, serve: "v8", obs: none}, {at: 50, obs: good}, {at: 55, serve: "v6", obs: none}})},
		{"shadow", shadowed, concat([]tick{{at: 0, obs: none}}, every(10, 30, pairs(200, 199)))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.ticks {
				tc.ticks[i].acts = "*"
			}
			var b strings.Builder
			for i := range tc.ticks {
				tk := &tc.ticks[i]
				change := ""
				if tk.serve != "" {
					change = " serve=" + tk.serve
				}
				tk.check = func(_ *testing.T, st ModelState, rt traffic.Route, acts []Action) {
					fmt.Fprintf(&b, "t=%ds%s phase=%s traffic=[%s]\n", tk.at, change, st.Phase, weightsOf(rt))
					for _, a := range acts {
						switch a := a.(type) {
						case Event:
							fmt.Fprintf(&b, "  event %s: %s\n", a.Level, a.Message)
						case RecordVerdict:
							fmt.Fprintf(&b, "  verdict %s on %s: %s\n", a.Kind, a.Commit, jsonOf(t, a.Payload))
						case WriteCommit:
							fmt.Fprintf(&b, "  commit %s %s → %s (judged %s): %s\n", a.Kind, a.From, a.To, a.Commit, a.Reason)
						}
					}
				}
			}
			newScenario(tc.model()).play(t, tc.ticks)
			path := filepath.Join("testdata", "transcripts", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("transcript %s differs (run with -update and review the diff):\n%s", path, b.String())
			}
		})
	}
}
