package behaviour

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"
)

// Output is one answer's output: a number, or a class (strings and
// booleans), or missing; Version is the version that answered (set by
// whoever keeps it, to score the label against that version).
type Output struct {
	Num     float64
	Class   string
	Kind    OutputKind
	Version string
}

// OutputKind says what an Output holds.
type OutputKind uint8

const (
	OutMissing OutputKind = iota
	OutNumber
	OutClass
)

// OutputOf classifies a decoded JSON value (encoding/json types).
func OutputOf(v any) Output {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Output{}
		}
		return Output{Num: x, Kind: OutNumber}
	case string:
		return Output{Class: x, Kind: OutClass}
	case bool:
		return Output{Class: strconv.FormatBool(x), Kind: OutClass}
	}
	return Output{}
}

// AddTo counts the output in a sketch.
func (o Output) AddTo(s *Sketch) {
	switch o.Kind {
	case OutNumber:
		s.AddNumber(o.Num)
	case OutClass:
		s.AddCategory(o.Class)
	default:
		s.AddMissing()
	}
}

// Quality accumulates the scores of labelled outputs; it merges by
// addition like a Sketch.
type Quality struct {
	// Labelled counts labels matched to an output; Correct those equal to
	// it (accuracy: a class equal to the label's text, a number equal to
	// the label).
	Labelled uint64 `json:"labelled"`
	Correct  uint64 `json:"correct"`
	// Numeric counts numeric outputs with a numeric label; AbsErr, SqErr
	// and QuadErr sum their errors to the powers 1, 2 and 4 (mae, rmse,
	// and the spread of the squared error that bounds rmse).
	Numeric uint64  `json:"numeric,omitempty"`
	AbsErr  float64 `json:"abs_err,omitempty"`
	SqErr   float64 `json:"sq_err,omitempty"`
	QuadErr float64 `json:"quad_err,omitempty"`
	// Probabilities counts outputs in [0, 1] with a 0/1 (or boolean)
	// label; LogLoss sums their log losses, clipped at LogLossEps, and
	// LogLossSq their squares (the spread that bounds log_loss).
	Probabilities uint64  `json:"probabilities,omitempty"`
	LogLoss       float64 `json:"log_loss,omitempty"`
	LogLossSq     float64 `json:"log_loss_sq,omitempty"`
}

// LogLossEps clips probabilities away from 0 and 1.
const LogLossEps = 1e-15

// Add scores one output against its label (a decoded JSON value).
func (q *Quality) Add(o Output, label any) {
	q.Labelled++
	switch o.Kind {
	case OutClass:
		if o.Class == LabelText(label) {
			q.Correct++
		}
	case OutNumber:
		y, isNum := label.(float64)
		if b, ok := label.(bool); ok {
			y, isNum = 0, true
			if b {
				y = 1
			}
		}
		if !isNum {
			return
		}
		if o.Num == y {
			q.Correct++
		}
		d := o.Num - y
		q.Numeric++
		q.AbsErr += math.Abs(d)
		q.SqErr += d * d
		q.QuadErr += d * d * d * d
		if (y == 0 || y == 1) && o.Num >= 0 && o.Num <= 1 {
			p := math.Min(math.Max(o.Num, LogLossEps), 1-LogLossEps)
			loss := -math.Log(1 - p)
			if y == 1 {
				loss = -math.Log(p)
			}
			q.Probabilities++
			q.LogLoss += loss
			q.LogLossSq += loss * loss
		}
	}
}

// Merge adds o to q.
func (q *Quality) Merge(o Quality) {
	q.Labelled += o.Labelled
	q.Correct += o.Correct
	q.Numeric += o.Numeric
	q.AbsErr += o.AbsErr
	q.SqErr += o.SqErr
	q.QuadErr += o.QuadErr
	q.Probabilities += o.Probabilities
	q.LogLoss += o.LogLoss
	q.LogLossSq += o.LogLossSq
}

// Metric is a label metric (accuracy, mae, rmse, log_loss) and the number
// of labelled answers it is computed on; n is 0 when none.
func (q Quality) Metric(name string) (v float64, n uint64) {
	switch name {
	case "accuracy":
		return ratio(float64(q.Correct), q.Labelled), q.Labelled
	case "mae":
		return ratio(q.AbsErr, q.Numeric), q.Numeric
	case "rmse":
		return math.Sqrt(ratio(q.SqErr, q.Numeric)), q.Numeric
	case "log_loss":
		return ratio(q.LogLoss, q.Probabilities), q.Probabilities
	}
	return math.NaN(), 0
}

func ratio(a float64, n uint64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return a / float64(n)
}

// LabelText is the text form of a class label, the form labels and
// outputs are compared in: a string as is, a number as JSON writes it
// (1 and 1.0 are "1"), true or false; anything else "".
func LabelText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// Defaults of a Recent store.
const (
	DefaultRecentMax = 100000
	DefaultRecentTTL = 24 * time.Hour
)

// ErrNoOutput is returned for a label whose request id has no kept output:
// never issued, already labelled, evicted or expired.
var ErrNoOutput = errors.New("no recent output for this request id (unknown, already labelled, or too old)")

// Recent keeps the outputs of recent answers by request id until their
// label arrives, bounded in count (oldest evicted first) and in age. It
// is safe for concurrent use.
type Recent struct {
	Max int           // entries kept at most (default DefaultRecentMax)
	TTL time.Duration // an output older than this takes no label (default DefaultRecentTTL)

	mu    sync.Mutex
	byID  map[string]kept
	queue []queued // insertion order, for eviction
	head  int
}

type kept struct {
	out Output
	at  time.Time
}

type queued struct {
	id string
	at time.Time
}

// Put keeps the output of the answer to request id, given at now.
func (r *Recent) Put(now time.Time, id string, o Output) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil {
		r.byID = map[string]kept{}
	}
	r.expire(now)
	// The queue also holds ids already labelled; bounding it too keeps
	// the memory bounded when most answers get a label.
	for (len(r.byID) >= r.max() || len(r.queue)-r.head >= 2*r.max()) && r.head < len(r.queue) {
		r.drop()
	}
	r.byID[id] = kept{out: o, at: now}
	r.queue = append(r.queue, queued{id: id, at: now})
}

// Take removes and returns the output kept for id, if it is younger than
// the TTL at now: a label is scored at most once per request.
func (r *Recent) Take(now time.Time, id string) (Output, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	k, ok := r.byID[id]
	if !ok {
		return Output{}, ErrNoOutput
	}
	delete(r.byID, id)
	return k.out, nil
}

// Len is the number of outputs kept.
func (r *Recent) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

func (r *Recent) max() int {
	if r.Max <= 0 {
		return DefaultRecentMax
	}
	return r.Max
}

func (r *Recent) ttl() time.Duration {
	if r.TTL <= 0 {
		return DefaultRecentTTL
	}
	return r.TTL
}

// expire drops the entries older than the TTL from the front.
func (r *Recent) expire(now time.Time) {
	for r.head < len(r.queue) && now.Sub(r.queue[r.head].at) >= r.ttl() {
		r.drop()
	}
	if r.head > 1024 && r.head*2 > len(r.queue) { // compact the queue
		r.queue = append(r.queue[:0:0], r.queue[r.head:]...)
		r.head = 0
	}
}

// drop removes the oldest queued entry (if it is still the kept one: an
// id put twice keeps its newer output).
func (r *Recent) drop() {
	q := r.queue[r.head]
	r.queue[r.head] = queued{}
	r.head++
	if k, ok := r.byID[q.id]; ok && k.at.Equal(q.at) {
		delete(r.byID, q.id)
	}
}
