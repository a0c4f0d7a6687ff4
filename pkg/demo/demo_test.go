package demo

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/policies"
)

// sceneWants are what each scene's narration and Git must show.
var sceneWants = map[string][]string{
	"canary": {"The canary completed: 100% of traffic on v2"},
	"rollback": {`Revert "Promote fraud v3"`, "Switchyard-Action: rollback", "Switchyard-Model: fraud/production",
		"Switchyard-Reverts: ", `Git and traffic agree again: serve = "v2"`},
	"drift":  {`Revert "Promote fraud v7"`, `check "drift" failed`, "output_drift PSI", "Switchyard-Action: rollback"},
	"shadow": {"Shadow verdict: v1 agreed with v2 on"},
	"ab":     {"Switchyard-Action: promote", "The winner, v2, is serving and the experiment block is gone"},
	"roll_through": {"Roll fraud/production through to v4", `roll_through = "v4" is removed`,
		"v4 rolls out from v2 by the same canary", `v4 serves; Git says serve = "v4"`},
	"bandit":      {"Promote fraud/production to v5 (experiment winner)", "The winner, v5, is serving"},
	"blue_green":  {"preview_mirror copies 20% of live requests to v6", "Smoke tests answered by: v6 ×", "Switched: 100% on v6"},
	"fallback":    {"Switchyard-Action: fallback", `Git and traffic agree: serve = "rules"`},
	"all_at_once": {"All at once: 100% on v6 straight away", "v6 serves; Git already said so"},
}

// TestDemo plays the whole demo end to end on 127.0.0.1 (under the race
// detector only the roll_through scene, with --only): a real Git
// repository, the reconciler, the builtin router, model servers and
// traffic. It checks what the narration and Git say happened.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes about 50 s")
	}
	if len(sceneWants) != len(Scenes()) {
		t.Fatalf("sceneWants covers %d scenes, the demo has %d", len(sceneWants), len(Scenes()))
	}
	pol := map[string][]byte{}
	for _, name := range []string{"lib.rego", "rollout.rego", "promotion.rego", "experiment.rego", "network.rego"} {
		b, err := policies.Files.ReadFile(name)
		if err != nil {
			t.Fatalf("default policy %s: %v", name, err)
		}
		pol[name] = b
	}
	only, played := "", Scenes()
	if raceBuild {
		only, played = "roll_through", []string{"roll_through"}
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	err := Run(ctx, Options{Out: &out, Dir: t.TempDir(), Policies: pol, Timeout: 90 * time.Second, Only: only})
	t.Log(out.String())
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	for _, name := range played {
		for _, want := range sceneWants[name] {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the demo's %s scene does not show %q", name, want)
			}
		}
	}
}

func TestDemoOnlyUnknownScene(t *testing.T) {
	err := Run(context.Background(), Options{Out: io.Discard, Dir: t.TempDir(), Only: "canery"})
	if err == nil || !strings.Contains(err.Error(), `no scene "canery": the scenes are canary, rollback, drift, shadow, ab, roll_through, bandit, blue_green, fallback, all_at_once`) {
		t.Fatalf("err = %v", err)
	}
}
