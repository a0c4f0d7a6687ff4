package reconcile

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestRenderStatusShowsRoleAndFleetReplicas(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := Status{Head: "abc", Applied: "abc", Now: now, Models: []ModelStatus{},
		ID: "recon-1", Leader: "recon-2", Role: "standby",
		Fleets: map[string][]traffic.ReplicaStatus{"edge": {
			{Admin: "http://10.0.0.7:9901", Generation: 12, Want: 12, InSync: true, LastContact: now.Add(-2 * time.Second)},
			{Admin: "http://10.0.0.8:9901", Generation: 0, Want: 12, LastError: "connection refused"},
		}}}
	var b bytes.Buffer
	RenderStatus(&b, s)
	out := b.String()
	for _, want := range []string{
		"replica recon-1: standby (leader: recon-2)",
		"router edge:",
		"http://10.0.0.7:9901", "generation 12 in sync, last contact 2s ago",
		"http://10.0.0.8:9901", "generation 0 BEHIND (want 12), last contact never, last error: connection refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
