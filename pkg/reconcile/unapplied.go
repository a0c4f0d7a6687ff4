package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// Replicated is a target made of replicas (a builtin router fleet, HAProxy
// instances) that reports each one's state.
type Replicated interface {
	Replicas() []traffic.ReplicaStatus
}

// acknowledged holds, per router and model key, the route of the table the
// router last acknowledged whole (every fleet replica took it).
type acknowledged map[string]traffic.Route

func ackKey(router, model string) string { return router + "\x00" + model }

// acknowledged indexes the tables last applied without error.
func (d *Daemon) acknowledged() acknowledged {
	out := acknowledged{}
	for name, t := range d.tableAcked {
		for _, r := range t.Routes {
			out[ackKey(name, r.Model+"/"+r.Stage)] = r
		}
	}
	return out
}

// behind names, per router of tree made of replicas, the replicas that do
// not hold its current table, once a pass.
func (d *Daemon) behind(ctx context.Context, tree *spec.Tree) map[string]string {
	out := map[string]string{}
	for name, r := range tree.Routers {
		target, err := d.deps.Routers.Target(ctx, r)
		if err != nil {
			continue
		}
		if rs, ok := target.(Replicated); ok {
			out[name] = describeBehind(rs.Replicas())
		}
	}
	return out
}

// withBehind adds the replicas behind to why a route is not in force.
func withBehind(why, behind string) string {
	if why == "" || behind == "" {
		return why
	}
	return why + " (behind: " + behind + ")"
}

// describeBehind names the replicas not in sync, with their last errors.
func describeBehind(reps []traffic.ReplicaStatus) string {
	var parts []string
	for _, r := range reps {
		if r.InSync {
			continue
		}
		p := fmt.Sprintf("%s at generation %d of %d", r.Admin, r.Generation, r.Want)
		if r.LastError != "" {
			p += ": " + r.LastError
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// unapplied says why the route last given to m is not known to be in
// force on every part of its router: the last Apply of the router's table
// failed (a fleet replica did not acknowledge it, a reload failed), so the
// table acknowledged last does not hold that route. The engine then holds
// the step's bake (rollout.Observations.Unapplied); restores never wait.
// "" when the route is in force, or before any route was given (the first
// pass after a start, which sends the table again at once).
func (d *Daemon) unapplied(m *spec.Model, acked acknowledged) string {
	want, ok := d.routes[m.Key()]
	if !ok {
		return ""
	}
	if got, ok := acked[ackKey(m.Router, m.Key())]; ok && sameJSON(got, want) {
		return ""
	}
	return fmt.Sprintf("router %q has not acknowledged this route on every part of it yet: it is sent again every pass", m.Router)
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
