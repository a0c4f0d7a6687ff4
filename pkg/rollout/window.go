package rollout

import "time"

// Window is the measurement window of a model at now: from the last
// measurement (or one interval back, the first time) to now, in whole
// seconds, the second still running left for the next window, so that
// successive windows count every request, pair and reward exactly once. A
// running experiment's window starts no earlier than the first whole
// second after it started, when the control no longer took every request.
// due is false when nothing is measured or the interval has not passed.
func (st ModelState) Window(now time.Time) (start, end time.Time, due bool) {
	measuring := st.Rollout != nil || st.Shadow != nil || (st.Experiment != nil && !st.Experiment.Done)
	if !measuring || st.Interval <= 0 {
		return time.Time{}, time.Time{}, false
	}
	if !st.MeasuredAt.IsZero() && now.Before(st.MeasuredAt.Add(st.Interval)) {
		return time.Time{}, time.Time{}, false
	}
	start = st.MeasuredAt
	if start.IsZero() {
		start = now.Add(-st.Interval)
	}
	start, end = start.Truncate(time.Second), now.Truncate(time.Second)
	if x := st.Experiment; x != nil && !x.Done && x.StartedAt.After(start) {
		s := x.StartedAt.Truncate(time.Second)
		if s.Before(x.StartedAt) {
			s = s.Add(time.Second)
		}
		start = s
	}
	if end.Before(start) {
		end = start
	}
	return start, end, true
}
