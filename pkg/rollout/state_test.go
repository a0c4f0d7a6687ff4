package rollout

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/spec"
)

// A reconciler killed at any tick and restarted from its persisted JSON
// state makes exactly the same decisions as one that never stopped.
func TestJSONRoundTripResumesIdentically(t *testing.T) {
	scripts := map[string]func() (*spec.Model, []tick){
		"canary": func() (*spec.Model, []tick) {
			return baseModel(Canary), concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 45, good), every(55, 65, none), every(75, 95, good))
		},
		"blue_green with rollback": func() (*spec.Model, []tick) {
			return baseModel(BlueGreen), concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 35, good), every(45, 45, bad),
				[]tick{{at: 55, serve: "v6", obs: none}})
		},
		"bandit": func() (*spec.Model, []tick) {
			obs := rewards(map[string][2]int64{"v6": {100, 5}, "v7": {100, 6}, "v8": {100, 15}})
			return banditModel(), concat([]tick{{at: 0, obs: none}}, every(10, 300, obs))
		},
		"shadow": func() (*spec.Model, []tick) {
			return shadowModel(), concat([]tick{{at: 0, obs: none}}, every(10, 40, pairs(200, 199)))
		},
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			m1, ticks := script()
			for i := range ticks {
				ticks[i].acts = "*"
			}
			plain := newScenario(m1)
			plain.play(t, ticks)
			m2, ticks2 := script()
			for i := range ticks2 {
				ticks2[i].acts = "*"
			}
			restarted := newScenario(m2)
			restarted.roundTrip = true
			restarted.play(t, ticks2)
			if !reflect.DeepEqual(plain.log, restarted.log) {
				for i := range plain.log {
					if plain.log[i] != restarted.log[i] {
						t.Fatalf("tick %d differs after a JSON round-trip:\n plain     %s\n restarted %s", i, plain.log[i], restarted.log[i])
					}
				}
			}
		})
	}
}

// Killed mid-canary: the persisted state, restored by a new process,
// holds the same traffic at once (no flap) and continues the same step.
func TestResumeMidCanaryWithoutFlap(t *testing.T) {
	m := baseModel(Canary)
	sc := newScenario(m)
	sc.play(t, concat([]tick{adopted, {at: 5, serve: "v7", obs: none}}, every(15, 45, good)))
	before, _ := sc.step(t, 50, none)
	saved, err := json.Marshal(State{Models: map[string]ModelState{m.Key(): sc.st}})
	if err != nil {
		t.Fatal(err)
	}
	var restored State
	if err := json.Unmarshal(saved, &restored); err != nil {
		t.Fatal(err)
	}
	st, after, acts := Step(m, "c1", restored.Models[m.Key()], none, at(50))
	if weightsOf(after) != weightsOf(before) || weightsOf(after) != "v6:50 v7:50" {
		t.Fatalf("traffic after restart %s, before %s", weightsOf(after), weightsOf(before))
	}
	if len(acts) != 0 || st.Rollout.Step != 1 || st.Phase != PhaseProgressing {
		t.Fatalf("restart acted: %v, step %d, phase %s", acts, st.Rollout.Step, st.Phase)
	}
	if !NextWake(restored).Equal(at(55)) {
		t.Errorf("next wake after restart %v, want t=55", NextWake(restored))
	}
}

func TestStepAll(t *testing.T) {
	a := baseModel(Canary)
	b := baseModel(AllAtOnce)
	b.Name, b.Router, b.Path = "churn", "web", "/v1/churn"
	tree := &spec.Tree{
		Routers: map[string]*spec.Router{"edge": {Name: "edge", Type: "builtin"}, "web": {Name: "web", Type: "nginx"}, "idle": {Name: "idle", Type: "haproxy"}},
		Models:  []*spec.Model{b, a},
	}
	st, tables, acts := StepAll(tree, "c0", State{}, nil, at(0))
	if len(st.Models) != 2 || st.Models["fraud/production"].Stable != "v6" || st.Models["churn/production"].Phase != PhaseIdle {
		t.Fatalf("state %+v", st)
	}
	if len(tables["edge"].Routes) != 1 || tables["edge"].Routes[0].Model != "fraud" || len(tables["web"].Routes) != 1 || tables["web"].Routes[0].Model != "churn" {
		t.Fatalf("tables %+v", tables)
	}
	if tables["idle"].Routes == nil {
		t.Errorf("a router without models must get an empty table, not a nil one")
	}
	if len(acts) != 2 {
		t.Errorf("actions %v", acts)
	}
	a.Serve = "v7"
	tree.Models = []*spec.Model{a}
	st, tables, acts = StepAll(tree, "c1", st, map[string]Observations{"fraud/production": none}, at(5))
	if _, ok := st.Models["churn/production"]; ok {
		t.Errorf("a model gone from the spec kept its state")
	}
	if len(tables["web"].Routes) != 0 || weightsOf(tables["edge"].Routes[0]) != "v6:75 v7:25" {
		t.Errorf("tables %+v", tables)
	}
	if !hasEvent(acts, "churn/production is no longer in the spec") {
		t.Errorf("events %v", events(acts))
	}
	// The state of the whole tree round-trips through JSON.
	var back State
	if err := json.Unmarshal([]byte(jsonOf(t, st)), &back); err != nil || jsonOf(t, back) != jsonOf(t, st) {
		t.Fatalf("round trip: %v", err)
	}
	if _, rts, _ := StepAll(tree, "c1", back, nil, at(5)); !reflect.DeepEqual(rts, tables) {
		t.Errorf("tables differ after a round trip")
	}
}

func TestActionsAreJSON(t *testing.T) {
	acts := []Action{
		WriteCommit{Kind: CommitRollback, Model: "fraud", Stage: "production", From: "v7", To: "v6", RevertsServeOf: "v7", Facts: map[string]string{"check": "errors"}},
		RecordVerdict{Kind: VerdictShadow, Model: "fraud", Stage: "production", Payload: ShadowVerdict{Version: "v8", Passed: true}},
		Event{Level: LevelInfo, Model: "fraud/production", Message: "m"},
	}
	b, err := json.Marshal(acts)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"kind":"rollback","model":"fraud","stage":"production","from":"v7","to":"v6","reason":"","reverts_serve_of":"v7","facts":{"check":"errors"}},` +
		`{"kind":"shadow","model":"fraud","stage":"production","payload":{"version":"v8","passed":true,"agreement":0,"lower":0,"upper":0,"samples":0,"min_agreement":0,"errors":0}},` +
		`{"level":"info","model":"fraud/production","message":"m"}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// A queued outcome saved before WriteCommit carried RevertsCommit reads
// back unchanged, and one that carries it keeps it across a round trip.
func TestWriteCommitJSONReadsOldState(t *testing.T) {
	old := `{"kind":"rollback","model":"fraud","stage":"production","file":"specs/fraud.hcl","from":"v8","to":"v7","reason":"r","reverts_serve_of":"v8"}`
	var wc WriteCommit
	if err := json.Unmarshal([]byte(old), &wc); err != nil {
		t.Fatal(err)
	}
	want := WriteCommit{Kind: CommitRollback, Model: "fraud", Stage: "production", File: "specs/fraud.hcl", From: "v8", To: "v7", Reason: "r", RevertsServeOf: "v8"}
	if !reflect.DeepEqual(wc, want) {
		t.Fatalf("decoded %+v, want %+v", wc, want)
	}
	if b, err := json.Marshal(wc); err != nil || string(b) != old {
		t.Fatalf("re-encoded %s (%v), want %s", b, err, old)
	}
	want.RevertsCommit = "0123456789abcdef0123456789abcdef01234567"
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var back WriteCommit
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip %s gave %+v (%v)", b, back, err)
	}
	if want.Key() != "fraud/production" {
		t.Errorf("Key() = %q", want.Key())
	}
}
