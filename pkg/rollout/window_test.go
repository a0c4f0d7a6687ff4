package rollout

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) time.Time { return t0.Add(d) }
	running := &RolloutState{}
	cases := []struct {
		name       string
		st         ModelState
		now        time.Time
		start, end time.Time
		due        bool
	}{
		{"nothing measured", ModelState{Interval: 10 * time.Second}, ms(time.Minute), time.Time{}, time.Time{}, false},
		{"first time: one interval back", ModelState{Rollout: running, Interval: 10 * time.Second}, ms(20*time.Second + 300*time.Millisecond), ms(10 * time.Second), ms(20 * time.Second), true},
		{"not due yet", ModelState{Rollout: running, Interval: 10 * time.Second, MeasuredAt: ms(15 * time.Second)}, ms(24 * time.Second), time.Time{}, time.Time{}, false},
		{"since the last measurement", ModelState{Rollout: running, Interval: 10 * time.Second, MeasuredAt: ms(15*time.Second + 700*time.Millisecond)}, ms(26*time.Second + 100*time.Millisecond), ms(15 * time.Second), ms(26 * time.Second), true},
		{"an experiment from the whole second after it started", ModelState{
			Experiment: &ExperimentState{StartedAt: ms(12*time.Second + 500*time.Millisecond)}, Interval: 10 * time.Second},
			ms(20 * time.Second), ms(13 * time.Second), ms(20 * time.Second), true},
	}
	for _, c := range cases {
		start, end, due := c.st.Window(c.now)
		if due != c.due || !start.Equal(c.start) || !end.Equal(c.end) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", c.name, start, end, due, c.start, c.end, c.due)
		}
	}
}
