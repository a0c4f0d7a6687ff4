package reconcile

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// unapplied says why the route last given to m is not known to be in
// force on every part of its router: the last Apply of the router's table
// failed (a fleet replica did not acknowledge it, a reload failed), so the
// table acknowledged last does not hold that route. The engine then holds
// the step's bake (rollout.Observations.Unapplied); restores never wait.
// "" when the route is in force, or before any route was given (the first
// pass after a start, which sends the table again at once).
func (d *Daemon) unapplied(m *spec.Model) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	want, ok := d.routes[m.Key()]
	if !ok {
		return ""
	}
	for _, r := range d.applied2[m.Router].Routes {
		if r.Model == want.Model && r.Stage == want.Stage && tablesEqual(traffic.Table{Routes: []traffic.Route{r}}, traffic.Table{Routes: []traffic.Route{want}}) {
			return ""
		}
	}
	return fmt.Sprintf("router %q has not acknowledged this route on every part of it yet: it is sent again every pass", m.Router)
}
