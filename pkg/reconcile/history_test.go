package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/notify"
)

func TestStatusKeepsABoundedHistoryPerCheck(t *testing.T) {
	h, _, gm := notifyHarness(t)
	h.commitNotify("v1")
	h.run(1, time.Second)
	gm.set("v2", 0.01)
	gm.set("v1", 0.02)
	// A canary whose bake outlasts CheckPoints measurements (interval 5s).
	h.repo.commitRaw(`router "edge" {
  type   = "builtin"
  listen = "127.0.0.1:18080"
}
model "fraud" "production" {
  router = "edge"
  path   = "/v1/fraud"
  serve  = "v2"
  version "v1" { url = "http://127.0.0.1:9101" }
  version "v2" { url = "http://127.0.0.1:9102" }
  rollout {
    strategy = "canary"
    steps    = [10, 50]
    bake     = "1h"
    interval = "5s"
  }
  check "errors" {
    metric = "error_rate"
    max    = 0.05
  }
}
`)
	h.run(3, 5*time.Second)
	m := h.d.Status().Models[0]
	if len(m.Measurements) != 1 {
		t.Fatalf("measurements %+v", m.Measurements)
	}
	x := m.Measurements[0]
	if x.Check != "errors" || x.Metric != "error_rate" || x.Max == nil || *x.Max != 0.05 || x.Min != nil {
		t.Fatalf("thresholds not shown: %+v", x)
	}
	if len(x.History) < 2 || x.History[0].Value != 0.01 || x.History[0].Baseline != 0.02 || x.History[0].Version != "v2" || x.History[0].Verdict != "pass" {
		t.Fatalf("history %+v", x.History)
	}
	first := len(x.History)
	h.run(2*CheckPoints, 5*time.Second)
	x = h.d.Status().Models[0].Measurements[0]
	if len(x.History) != CheckPoints {
		t.Fatalf("history holds %d points after %d measurements, want the last %d", len(x.History), first+2*CheckPoints, CheckPoints)
	}
	for i := 1; i < len(x.History); i++ {
		if !x.History[i].At.After(x.History[i-1].At) {
			t.Fatalf("points out of order or repeated at %d: %v then %v", i, x.History[i-1].At, x.History[i].At)
		}
	}
	if last := x.History[len(x.History)-1].At; !last.Equal(h.clock.Now()) && h.clock.Now().Sub(last) > 5*time.Second {
		t.Errorf("the newest point (%v) is not the last measurement (now %v)", last, h.clock.Now())
	}
	st := h.d.Status()
	if len(st.Events) != 1 || st.Events[0].Event != "started" {
		t.Errorf("events %+v", st.Events)
	}

	// Serve goes back to v1 (a revert): the rollout ends, a new one to v2
	// starts with empty charts.
	h.commitNotify("v1")
	h.run(1, time.Second)
	h.commitNotify("v2")
	h.run(1, time.Second)
	x = h.d.Status().Models[0].Measurements[0]
	if len(x.History) > 1 {
		t.Errorf("a new rollout kept %d points of the previous one", len(x.History))
	}
}

func TestRecentEventsAreBounded(t *testing.T) {
	var hs history
	for i := 0; i < RecentEvents+7; i++ {
		hs.recordEvent(notifyEvent(i))
	}
	got := hs.recent()
	if len(got) != RecentEvents || got[0].Reason != notifyEvent(RecentEvents+6).Reason || got[len(got)-1].Reason != notifyEvent(7).Reason {
		t.Fatalf("recent: %d events, newest %q, oldest %q", len(got), got[0].Reason, got[len(got)-1].Reason)
	}
}

func notifyEvent(i int) notify.Event {
	return notify.Event{Event: "started", Reason: fmt.Sprint("event ", i)}
}
