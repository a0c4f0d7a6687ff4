package spec

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/diag"
)

const notifySpec = `
router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:8080"
}

model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v7"
  version "v7" { url = "http://127.0.0.1:9102" }
}

notify "ops" {
  type       = "webhook"
  url        = "https://hooks.example.com/switchyard"
  secret_env = "NOTIFY_SECRET"
  events     = ["rollback", "paused"]
}

notify "chat" {
  type = "slack"
  url  = "https://hooks.slack.com/services/T0/B0/XXXX"
}
`

func TestNotifyDecoded(t *testing.T) {
	tree, diags := LoadFiles(map[string][]byte{"rollouts/a.hcl": []byte(notifySpec)}, "rollouts")
	if diag.HasErrors(diags) || len(diags) > 0 {
		t.Fatalf("diagnostics: %+v", diags)
	}
	ops := tree.Notify["ops"]
	if ops == nil || ops.Type != "webhook" || ops.URL != "https://hooks.example.com/switchyard" ||
		ops.SecretEnv != "NOTIFY_SECRET" || ops.File != "rollouts/a.hcl" {
		t.Fatalf("ops: %+v", ops)
	}
	if !ops.Wants("rollback") || !ops.Wants("paused") || ops.Wants("started") {
		t.Errorf("ops events: %v", ops.Events)
	}
	chat := tree.Notify["chat"]
	if chat == nil || !reflect.DeepEqual(chat.Events, NotifyEvents) {
		t.Fatalf("a block without events delivers every event, got %+v", chat)
	}

	b, err := json.Marshal(tree.PolicyNotify())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["ops"]["secret_env"] != "NOTIFY_SECRET" || got["ops"]["type"] != "webhook" ||
		len(got["ops"]["events"].([]any)) != 2 || got["chat"]["secret_env"] != nil {
		t.Errorf("policy notify: %s", b)
	}
}
