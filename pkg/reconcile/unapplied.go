package reconcile

import (
	"encoding/json"
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

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
