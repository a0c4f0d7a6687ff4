package targets

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// hungEndpoint stands in for one replica's admin address (TCP) or one
// instance's runtime API (unix socket). Each connection is handled as the
// mode says when it is accepted: refused (closed at once), hung (accepted,
// never answered, held until the test releases it) or forwarded to a real
// replica or instance behind it.
type hungEndpoint struct {
	t        testing.TB
	ln       net.Listener
	upstream func() (net.Conn, error) // where forwarded connections go

	mu      sync.Mutex
	mode    string        // "refuse", "hang" or "forward"
	accepts int           // connections accepted
	release chan struct{} // closed: the hung connections answer and close
	answerS string        // what they answer
	nheld   int           // connections held in the hang mode
	// held gets every connection accepted in the hang mode, as it is held.
	held chan net.Conn
}

func newHungEndpoint(t testing.TB, network, addr string, upstream func() (net.Conn, error)) *hungEndpoint {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	e := &hungEndpoint{t: t, ln: ln, upstream: upstream, mode: "refuse",
		release: make(chan struct{}), held: make(chan net.Conn, 16)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.accepts++
			mode, release := e.mode, e.release
			if mode == "hang" {
				e.nheld++
			}
			e.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				switch mode {
				case "hang":
					// It reads what it is sent, so that closing ends the
					// connection cleanly rather than resetting it.
					go io.Copy(io.Discard, c)
					select {
					case e.held <- c:
					case <-stop:
						return
					}
					select {
					case <-release:
						e.mu.Lock()
						answer := e.answerS
						e.mu.Unlock()
						io.WriteString(c, answer)
					case <-stop:
					}
				case "forward":
					up, err := e.upstream()
					if err != nil {
						return
					}
					defer up.Close()
					go func() { io.Copy(up, c); closeWrite(up) }()
					io.Copy(c, up)
				}
			}()
		}
	}()
	return e
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

func (e *hungEndpoint) setMode(mode string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mode = mode
}

func (e *hungEndpoint) accepted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.accepts
}

// waitHeld waits until a connection is held in the hang mode.
func (e *hungEndpoint) waitHeld(done <-chan error) {
	e.t.Helper()
	select {
	case <-e.held:
	case err := <-done:
		e.t.Fatalf("the restore returned (%v) before the hung endpoint was even called", err)
	case <-time.After(30 * time.Second):
		e.t.Fatal("the hung endpoint was never called")
	}
}

// answer lets every hung connection go, now and later, with the given
// answer.
func (e *hungEndpoint) answer(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answerS = s
	close(e.release)
}

// rearm makes the hang mode hold connections again until the next
// answer, counting them from zero.
func (e *hungEndpoint) rearm() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release, e.nheld = make(chan struct{}), 0
}

// heldCount is how many connections were held in the hang mode.
func (e *hungEndpoint) heldCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nheld
}

// eventually polls cond (bounded) while the restore must still be running:
// done must not have delivered, since the hung endpoint still holds its
// call. It fails the test if cond never holds or the restore returned.
func eventually(t testing.TB, done <-chan error, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		select {
		case err := <-done:
			t.Fatalf("the restore returned (%v) before %s: it waited for the hung replica's call to end", err, what)
		default:
		}
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never happened while the hung replica held its call: the restore waits for it", what)
}

// A fleet of two live replicas and one hung one (it accepts the
// connection and never answers): the restore reaches both live replicas
// while the hung one's call is still blocked, the Apply reports the hung
// one by its URL once its call ends, and the next Apply retries it.
func TestFleetRestoreDoesNotWaitForAHungReplica(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	live := []*replicaServer{newReplica(t), newReplica(t)}
	behind := newReplica(t) // the real router behind the hung address
	upAddr := strings.TrimPrefix(behind.srv.URL, "http://")
	hung := newHungEndpoint(t, "tcp", "127.0.0.1:0", func() (net.Conn, error) { return net.Dial("tcp", upAddr) })
	hungURL := "http://" + hung.ln.Addr().String()
	// The hung replica comes first, so that calling the replicas one
	// after another would wait for it.
	r := fleetSpec(live...)
	r.Admins = append([]string{hungURL}, r.Admins...)
	var log syncBuffer
	// The replica timeout is far longer than the test: the hung call ends
	// only when the test lets it. Every call is a new connection, so that
	// the hung address's mode applies to it.
	tgt, err := New(r, Deps{Getenv: func(string) string { return "s3cret" }, ReplicaTimeout: 10 * time.Minute,
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		Logger:     slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := tgt.(*Fleet)

	// The canary at 50% reaches the live replicas; the third refuses.
	if err := f.Apply(ctx, splitTable(50)); err == nil || !strings.Contains(err.Error(), hungURL) {
		t.Fatalf("apply with a refusing replica: %v, want an error naming %s", err, hungURL)
	}
	hung.setMode("forward")
	if err := f.Apply(ctx, splitTable(50)); err != nil {
		t.Fatalf("apply once every replica answers: %v", err)
	}

	// The third replica hangs; the restore starts.
	hung.setMode("hang")
	before := hung.accepted()
	done := make(chan error, 1)
	go func() { done <- f.Apply(ctx, splitTable(0)) }()
	hung.waitHeld(done)
	eventually(t, done, "the live replicas getting the restore", func() bool {
		return weightOf(live[0].table(), "v8") == 0 && weightOf(live[1].table(), "v8") == 0
	})
	if got := weightOf(behind.table(), "v8"); got != 50 {
		t.Errorf("the router behind the hung address has v8 at %v%%, want still 50", got)
	}
	// The hung replica's call ends (its connection closes unanswered).
	hung.answer("")
	err = <-done
	if err == nil || !strings.Contains(err.Error(), hungURL) || !strings.Contains(err.Error(), "1 of 3 replicas") {
		t.Fatalf("restore with a hung replica: %v, want an error naming %s", err, hungURL)
	}
	if n := hung.heldCount(); n != 1 {
		t.Errorf("the restore called the hung replica %d times, want once (each call waits for its timeout)", n)
	}
	for _, st := range f.Replicas() {
		if st.Admin == hungURL {
			if st.InSync || st.LastError == "" {
				t.Errorf("the hung replica's status %+v, want behind with its error", st)
			}
		} else if !st.InSync {
			t.Errorf("live replica %s behind after the restore: %+v", st.Admin, st)
		}
	}

	// It answers again: the next Apply retries it, and only it.
	hung.setMode("forward")
	if err := f.Apply(ctx, splitTable(0)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if hung.accepted() <= before+1 {
		t.Error("the hung replica was not retried")
	}
	if got := weightOf(behind.table(), "v8"); got != 0 {
		t.Errorf("the replica back has v8 at %v%% after the retry, want 0", got)
	}
}

// Two real HAProxy instances, the second behind a runtime API address
// that hangs (accepts and never answers): the restore reaches the first
// while the second's call is still blocked, the Apply and the status name
// the hung one, and the next Apply retries it.
func TestHAProxyRestoreDoesNotWaitForAHungInstance(t *testing.T) {
	var hungSock string
	p := newHAProxyPair(t, func(sockA, _ string) []string {
		hungSock = filepath.Join(filepath.Dir(sockA), "hung.sock")
		return []string{hungSock, sockA}
	})
	h, table, sockB := p.h, p.table, p.sockB
	hung := newHungEndpoint(t, "unix", hungSock, func() (net.Conn, error) { return net.Dial("unix", sockB) })
	hung.setMode("forward")
	ctx := context.Background()
	p.start(p.cmdA, p.sockA)
	p.start(p.cmdB, sockB)
	a := h.instances[1]
	b := &haInstance{api: sockB, network: "unix", addr: sockB} // b itself, not through the hung address
	weight, worker := p.weight, p.worker

	if err := h.Apply(ctx, table(25)); err != nil {
		t.Fatal(err)
	}
	if wa, wb := weight(a), weight(b); wa != "50" || wb != "50" {
		t.Fatalf("v7 at 25%%: weights %s and %s, want 50 on both", wa, wb)
	}

	// b's runtime API hangs; the restore starts.
	hung.setMode("hang")
	before := hung.accepted()
	done := make(chan error, 1)
	go func() { done <- h.Apply(ctx, table(0)) }()
	hung.waitHeld(done)
	eventually(t, done, "the live instance getting the restore", func() bool { return weight(a) == "0" })
	if wb := weight(b); wb != "50" {
		t.Errorf("the instance behind the hung address has v7 weight %s, want still 50", wb)
	}
	// Its connection closes without an answer: HAProxy answers even a
	// set weight that worked (an empty line), so this is no success.
	hung.answer("")
	err := <-done
	if err == nil || !strings.Contains(err.Error(), hungSock) {
		t.Fatalf("restore with a hung instance: %v, want an error naming %s", err, hungSock)
	}
	if n := hung.heldCount(); n != 1 {
		t.Errorf("the restore called the hung instance %d times, want once (each call waits for its timeout)", n)
	}
	for _, st := range h.Replicas() {
		if st.Admin == hungSock {
			if st.InSync || st.LastError == "" {
				t.Errorf("the hung instance's status %+v, want behind with its error", st)
			}
		} else if !st.InSync || st.LastError != "" {
			t.Errorf("live instance %s after the restore: %+v, want in sync", st.Admin, st)
		}
	}

	// It answers again: the next Apply of the same table retries it.
	hung.setMode("forward")
	if err := h.Apply(ctx, table(0)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if hung.accepted() <= before+1 {
		t.Error("the hung instance was not retried")
	}
	if wb := weight(b); wb != "0" {
		t.Errorf("the instance back has v7 weight %s after the retry, want 0", wb)
	}
	for _, st := range h.Replicas() {
		if !st.InSync || st.LastError != "" {
			t.Errorf("status %+v after the retry, want every instance in sync", st)
		}
	}

	// A restore that changes the structure (the preview removed) with b
	// hung: a is reloaded with the restore while b's call is blocked; b
	// is reloaded when it answers again.
	preview := table(25)
	preview.Routes[0].Preview = &traffic.Preview{Header: "x-switchyard-preview", Version: "v7"}
	if err := h.Apply(ctx, preview); err != nil {
		t.Fatalf("preview: %v", err)
	}
	workerA, workerB := worker(a), worker(b)
	hung.rearm()
	hung.setMode("hang")
	go func() { done <- h.Apply(ctx, table(0)) }()
	hung.waitHeld(done)
	eventually(t, done, "the live instance reloaded with the restore", func() bool {
		return worker(a) != workerA && weight(a) == "0"
	})
	hung.answer("")
	err = <-done
	if err == nil || !strings.Contains(err.Error(), hungSock) || strings.Contains(err.Error(), "previous config restored") {
		t.Fatalf("structure-changing restore with a hung instance: %v, want an error naming %s and the new file kept", err, hungSock)
	}
	if n := hung.heldCount(); n != 1 {
		t.Errorf("the restore called the hung instance %d times, want once", n)
	}
	hung.setMode("forward")
	if err := h.Apply(ctx, table(0)); err != nil {
		t.Fatalf("retry after the structure change: %v", err)
	}
	if worker(b) == workerB || weight(b) != "0" {
		t.Error("the instance back was not reloaded with the restore")
	}

	// A weight change while b hangs, whose context is cancelled (the
	// leader deposed, the daemon stopping): the call to b ends with the
	// context, not at its own 10 s bound, while b still never answered.
	hung.rearm()
	hung.setMode("hang")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- h.Apply(cctx, table(25)) }()
	hung.waitHeld(done)
	eventually(t, done, "the live instance getting the weights", func() bool { return weight(a) == "50" })
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), hungSock) {
		t.Fatalf("a weight change cancelled while an instance hangs: %v, want context.Canceled naming %s", err, hungSock)
	}
}

// A runtime API call to an address that accepts and never answers ends
// when its context is cancelled, with the context's error, not when its
// own 10 s bound runs out (that ends with a deadline error).
func TestHAProxyRuntimeCallEndsWithItsContext(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "hung.sock")
	hung := newHungEndpoint(t, "unix", sock, nil)
	hung.setMode("hang")
	tgt, err := New(&spec.Router{Name: "lb", Type: "haproxy", ConfigFile: filepath.Join(dir, "switchyard.cfg"),
		Listen: "127.0.0.1:8080", RuntimeAPI: sock}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	h := tgt.(*HAProxy)
	for _, call := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"show info", func(ctx context.Context) error { _, err := h.workerPid(ctx, h.instances[0]); return err }},
		{"set weight", func(ctx context.Context) error {
			_, err := h.runtime(ctx, h.instances[0], "set server sy_fraud_production/v7 weight 0")
			return err
		}},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- call.fn(ctx) }()
		hung.waitHeld(done)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), sock) {
			t.Errorf("%s cancelled while the runtime API hangs: %v, want context.Canceled naming %s", call.name, err, sock)
		}
	}
	// A caller's deadline shorter than the bound ends it too, as a
	// deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.runtime(ctx, h.instances[0], "show info"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call past its caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	if n := hung.heldCount(); n != 3 {
		t.Errorf("%d calls held, want 3", n)
	}
}

// A new leader's first Apply is a restore while one replica hangs: the
// fleet reads no generation before it (such a read would hang too), so
// the live replicas have the restore while the hung replica's only call
// is still blocked. Both leaders' clocks read the same
// millisecond, so the restore's generation is the very number every
// replica already holds with the canary's table: once the hung replica
// answers again, reading that number (a 304) does not make it count as
// holding the restore, and it is given it.
func TestFleetNewLeadersFirstRestoreDoesNotWaitForAHungReplica(t *testing.T) {
	ctx := context.Background()
	splitTable := splitter(t)
	live := []*replicaServer{newReplica(t), newReplica(t)}
	behind := newReplica(t)
	upAddr := strings.TrimPrefix(behind.srv.URL, "http://")
	hung := newHungEndpoint(t, "tcp", "127.0.0.1:0", func() (net.Conn, error) { return net.Dial("tcp", upAddr) })
	hungURL := "http://" + hung.ln.Addr().String()
	r := fleetSpec(live...)
	r.Admins = append([]string{hungURL}, r.Admins...)
	clock := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	var log syncBuffer
	newLeader := func() *Fleet {
		tgt, err := New(r, Deps{Getenv: func(string) string { return "s3cret" }, ReplicaTimeout: 10 * time.Minute,
			HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
			Now:        func() time.Time { return clock }, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return tgt.(*Fleet)
	}

	// The first leader's canary at 50% reaches every replica.
	hung.setMode("forward")
	if err := newLeader().Apply(ctx, splitTable(50)); err != nil {
		t.Fatal(err)
	}
	canaryGen := behind.table().Generation
	for _, rep := range append(live, behind) {
		if got := rep.table(); got.Generation != canaryGen || weightOf(got, "v8") != 50 {
			t.Fatalf("replica %s after the canary: generation %d, v8 at %v%%", rep.srv.URL, got.Generation, weightOf(got, "v8"))
		}
	}

	// A new leader's first Apply is the restore, with one replica hung.
	f := newLeader()
	hung.setMode("hang")
	done := make(chan error, 1)
	go func() { done <- f.Apply(ctx, splitTable(0)) }()
	hung.waitHeld(done)
	eventually(t, done, "the live replicas getting the new leader's first restore", func() bool {
		return weightOf(live[0].table(), "v8") == 0 && weightOf(live[1].table(), "v8") == 0
	})
	if got := live[0].table().Generation; got != canaryGen {
		t.Fatalf("the restore has generation %d, want %d (the same clock: the colliding number this test is about)", got, canaryGen)
	}
	hung.answer("")
	if err := <-done; err == nil || !strings.Contains(err.Error(), hungURL) {
		t.Fatalf("the restore with a hung replica: %v, want an error naming %s", err, hungURL)
	}
	if n := hung.heldCount(); n != 1 {
		t.Errorf("the hung replica was called %d times during the restore, want once", n)
	}
	if err := f.Measurable(clock.Add(-time.Minute)); err == nil || !strings.Contains(err.Error(), hungURL) {
		t.Errorf("a window with the hung replica behind: %v, want no data naming it", err)
	}

	// It answers again, still holding the canary under the restore's
	// number: the next pass's resync gives it the restore.
	hung.setMode("forward")
	if got := behind.table(); got.Generation != canaryGen || weightOf(got, "v8") != 50 {
		t.Fatalf("the replica behind the hung address: generation %d, v8 at %v%%; want the canary still", got.Generation, weightOf(got, "v8"))
	}
	if err := f.Resync(ctx); err != nil {
		t.Fatalf("resync once the hung replica answers: %v", err)
	}
	if got := weightOf(behind.table(), "v8"); got != 0 {
		t.Errorf("the replica back sends %v%% to v8 after the resync, want 0 (it showed the restore's generation with the canary's table)", got)
	}
	for _, st := range f.Replicas() {
		if !st.InSync || st.LastError != "" {
			t.Errorf("status %+v after the resync, want every replica in sync", st)
		}
	}
	if !strings.Contains(log.String(), "has the current table again") || !strings.Contains(log.String(), hungURL) {
		t.Errorf("the log does not say the hung replica has the current table again:\n%s", log.String())
	}
}
