package reconcile

// BatchStore is a Store that writes many keys in a few round trips (etcd
// transactions of many puts). A pass that changes thousands of states at
// once (the first pass over a new head, a mass rollout) then costs a few
// writes instead of one each; the daemon uses it when its Store has it.
type BatchStore interface {
	SaveAll(values map[string][]byte) error
}

// saveStates writes the states that changed this pass. A write that fails
// is forgotten as saved, so that the next pass writes it again (the same
// value again is harmless). It runs in the pass, which owns d.saved.
func (d *Daemon) saveStates(changed map[string][]byte) {
	if len(changed) == 0 {
		return
	}
	if b, ok := d.deps.Store.(BatchStore); ok {
		if err := b.SaveAll(changed); err != nil {
			d.log.Error("saving state failed", "models", len(changed), "err", err)
			for k := range changed {
				delete(d.saved, k)
			}
		}
		return
	}
	for k, v := range changed {
		if err := d.deps.Store.Save(k, v); err != nil {
			d.log.Error("saving state failed", "model", k, "err", err)
			delete(d.saved, k)
		}
	}
}
