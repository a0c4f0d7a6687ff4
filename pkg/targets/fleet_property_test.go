package targets

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"
)

// Whatever happens to the replicas (failed calls, some after the replica
// took the table, restarts, a predecessor
// leaving tables under any generation, the very numbers a new leader
// picks included, since both leaders read the same clock), after a Resync
// or an Apply of a new table (the fleet knows only what it saw then) a
// replica the fleet counts as holding its table does hold it, and a
// window the fleet calls measurable has every replica holding it. Random
// runs, bounded in steps; the seed is in the failure.
func TestFleetInSyncMeansTheReplicaHoldsTheTable(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	reps := []*replicaServer{newReplica(t), newReplica(t), newReplica(t)}
	pcts := []float64{0, 10, 50, 100}
	for seed := uint64(1); seed <= 8; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 0))
		now, advance := fakeClock(time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC))
		newLeader := func() *Fleet {
			tgt, err := New(fleetSpec(reps...), Deps{Getenv: func(string) string { return "s3cret" }, ReplicaTimeout: time.Minute,
				Now: now, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return tgt.(*Fleet)
		}
		for _, r := range reps {
			r.fail.Store(0)
			r.restart()
		}
		f, want := newLeader(), -1.0 // want: the fleet's table's v8 percent, -1 before any
		var trace []string
		for step := 0; step < 60; step++ {
			looked := false // the fleet has just read or written every replica
			switch op := rnd.IntN(10); {
			case op < 3:
				p := pcts[rnd.IntN(len(pcts))]
				_ = f.Apply(ctx, splitTable(p))
				looked, want = p != want, p
				trace = append(trace, fmt.Sprintf("apply %g", p))
			case op < 5:
				_ = f.Resync(ctx)
				looked = true
				trace = append(trace, "resync")
			case op < 7:
				i, mode := rnd.IntN(len(reps)), rnd.Int32N(4)
				reps[i].fail.Store(mode)
				trace = append(trace, fmt.Sprintf("replica %d fails %v", i, []string{"never", "every call", "every call after acting", "every table"}[mode]))
			case op < 8:
				i := rnd.IntN(len(reps))
				reps[i].restart()
				trace = append(trace, fmt.Sprintf("replica %d restarted empty", i))
			default:
				// A leader change: the old leader (or anyone) leaves some
				// replicas a table under a generation near the fleet's,
				// the new leader's first included, then a new fleet leads.
				f.mu.Lock()
				gen := f.gen
				f.mu.Unlock()
				for i, r := range reps {
					if rnd.IntN(2) == 0 {
						continue
					}
					tb := splitTable(pcts[rnd.IntN(len(pcts))])
					tb.Generation = []uint64{gen, gen + 1, max(gen, 2) - 1, uint64(now().UnixMilli()), uint64(now().UnixMilli()) + 1}[rnd.IntN(5)]
					if tb.Generation == 0 {
						tb.Generation = 1
					}
					if err := r.router.Load().Update(tb); err != nil {
						t.Fatal(err)
					}
					trace = append(trace, fmt.Sprintf("replica %d given v8 %g under generation %d by another writer", i, weightOf(tb, "v8"), tb.Generation))
				}
				f, want = newLeader(), -1
				trace = append(trace, "new leader")
			}
			if rnd.IntN(2) == 0 {
				advance(time.Duration(rnd.IntN(3)) * time.Millisecond)
			}
			if !looked {
				continue
			}
			for i, st := range f.Replicas() {
				got := reps[i].table()
				if st.InSync && (weightOf(got, "v8") != want || got.Generation != st.Want) {
					t.Fatalf("seed %d step %d: replica %d counts as in sync (%+v) but holds v8 %g under generation %d, the fleet's table has v8 %g\ntrace:\n%v",
						seed, step, i, st, weightOf(got, "v8"), got.Generation, want, trace)
				}
			}
			if want >= 0 && f.Measurable(now().Add(-time.Hour)) == nil {
				for i, r := range reps {
					if got := r.table(); weightOf(got, "v8") != want {
						t.Fatalf("seed %d step %d: a window was measurable while replica %d holds v8 %g, the fleet's table has v8 %g\ntrace:\n%v",
							seed, step, i, weightOf(got, "v8"), want, trace)
					}
				}
			}
		}
		// Every replica answers again: one pass's resync brings each one
		// the table, whatever generation it was left holding.
		for _, r := range reps {
			r.fail.Store(0)
		}
		if want < 0 {
			want = 50
			_ = f.Apply(ctx, splitTable(want))
		}
		if err := f.Resync(ctx); err != nil {
			t.Fatalf("seed %d: resync with every replica answering: %v\ntrace:\n%v", seed, err, trace)
		}
		for i, st := range f.Replicas() {
			if got := reps[i].table(); !st.InSync || weightOf(got, "v8") != want || got.Generation != st.Want {
				t.Fatalf("seed %d: after a resync with every replica answering, replica %d holds v8 %g under generation %d (%+v), the fleet's table has v8 %g\ntrace:\n%v",
					seed, i, weightOf(got, "v8"), got.Generation, st, want, trace)
			}
		}
	}
}
