package action

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The payloads in testdata/events are shaped like GitHub's webhooks.
func TestParseEvents(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ev, err := parseEvent("pull_request", read("pull_request.opened"))
	if err != nil {
		t.Fatal(err)
	}
	want := &prEvent{action: "opened", number: 42, baseSHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", baseRef: "main",
		headSHA: "3b5f4f9a7ee2a1d4e8c1f3b1a8f2f4f0e9b7c2d1", headRef: "promote-fraud-v8", title: "Promote fraud v8 to production",
		labels: []string{"promotion"}, htmlURL: "https://github.com/octo-org/models/pull/42"}
	if !reflect.DeepEqual(ev.pr, want) || ev.actor != "mona" || ev.repo != "octo-org/models" {
		t.Fatalf("pull_request: %+v %+v", ev, ev.pr)
	}
	ev, err = parseEvent("pull_request", read("pull_request.synchronize"))
	if err != nil || ev.pr == nil || ev.pr.action != "synchronize" || ev.pr.headSHA != "9c0a2d6f1b3e4c5d6e7f8a9b0c1d2e3f4a5b6c7d" {
		t.Fatalf("synchronize: %v %+v", err, ev)
	}
	ev, err = parseEvent("push", read("push"))
	if err != nil || ev.push == nil || ev.push.after != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" || ev.push.defaultBranch != "main" {
		t.Fatalf("push: %v %+v", err, ev)
	}
	ev, err = parseEvent("workflow_dispatch", read("workflow_dispatch"))
	if err != nil || ev.dispatch == nil || ev.dispatch.rollback != "fraud/production" || ev.dispatch.defaultBranch != "main" {
		t.Fatalf("workflow_dispatch: %v %+v", err, ev)
	}
	ev, err = parseEvent("pull_request_target", read("pull_request.opened"))
	if err != nil || ev.pr == nil {
		t.Fatalf("pull_request_target: %v %+v", err, ev)
	}
}
