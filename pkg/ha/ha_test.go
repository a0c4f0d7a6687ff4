package ha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/switchyard-dev/switchyard/pkg/ha/etcdtest"
)

func connect(t *testing.T, srv *etcdtest.Server, id string, ttl time.Duration) *Node {
	t.Helper()
	n, err := Connect(Config{Endpoints: []string{srv.Endpoint}, Prefix: "/sy-test", ID: id, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func campaign(t *testing.T, n *Node) *Term {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	term, err := n.Campaign(ctx)
	if err != nil {
		t.Fatalf("%s campaigning: %v", n.ID(), err)
	}
	return term
}

func TestClientWorksWithTheInstalledServer(t *testing.T) {
	srv := etcdtest.Start(t)
	n := connect(t, srv, "a", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := n.cli.Status(ctx, srv.Endpoint)
	if err != nil {
		t.Fatalf("status of the etcd server: %v", err)
	}
	t.Logf("etcd server %s, client go.etcd.io/etcd/client/v3 v3.6", st.Version)
	if st.Version == "" {
		t.Fatal("the server reports no version")
	}
}

func TestStateRoundTrip(t *testing.T) {
	srv := etcdtest.Start(t)
	term := campaign(t, connect(t, srv, "a", 5*time.Second))
	defer term.Close()
	s := term.Store()
	want := map[string]string{"fraud/production": `{"phase":"progressing"}`, "geo/staging": `{}`, "switchyard:applied": "abc123"}
	for k, v := range want {
		if err := s.Save(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete("geo/staging"); err != nil {
		t.Fatal(err)
	}
	delete(want, "geo/staging")
	// Another term (a new leader) reads what the last one wrote.
	term.Close()
	other := campaign(t, connect(t, srv, "b", 5*time.Second))
	defer other.Close()
	got, err := other.Store().All()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d keys %v, want %v", len(got), got, want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// SaveAll splits many states into transactions within etcd's default
// limits (128 operations, 1.5 MiB a request): 300 small states and a few
// large ones all arrive.
func TestSaveAllBatchesWithinEtcdLimits(t *testing.T) {
	srv := etcdtest.Start(t)
	term := campaign(t, connect(t, srv, "a", 5*time.Second))
	defer term.Close()
	want := map[string][]byte{}
	for i := 0; i < 300; i++ {
		want[fmt.Sprintf("model-%03d/production", i)] = []byte(fmt.Sprintf(`{"phase":"progressing","step":%d}`, i))
	}
	for i := 0; i < 4; i++ {
		want[fmt.Sprintf("big-%d/production", i)] = bytes.Repeat([]byte("x"), 600<<10)
	}
	if err := term.Store().SaveAll(want); err != nil {
		t.Fatal(err)
	}
	got, err := term.Store().All()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("%s: %d bytes read, want %d", k, len(got[k]), len(v))
		}
	}
}

func TestDeposedLeaderCannotWrite(t *testing.T) {
	srv := etcdtest.Start(t)
	a, b := connect(t, srv, "a", 5*time.Second), connect(t, srv, "b", 5*time.Second)
	ta := campaign(t, a)
	defer ta.Close()
	if err := ta.Store().Save("m/production", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	won := make(chan *Term, 1)
	go func() {
		tb, err := b.Campaign(context.Background())
		if err != nil {
			t.Error(err)
			close(won)
			return
		}
		won <- tb
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l, err := b.Leader(ctx); err != nil || l != "a" {
		t.Fatalf("leader seen by b = %q, %v; want a", l, err)
	}
	// a's key vanishes as if its lease had expired while a was paused
	// (a GC pause, a partition): b wins, a still thinks it leads.
	if _, err := a.cli.Delete(ctx, ta.key); err != nil {
		t.Fatal(err)
	}
	var tb *Term
	select {
	case tb = <-won:
	case <-ctx.Done():
		t.Fatal("b did not become the leader")
	}
	if tb == nil {
		t.FailNow()
	}
	defer tb.Close()
	if err := ta.Store().Save("m/production", []byte("stale write from a")); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's write: %v, want ErrDeposed", err)
	}
	if err := ta.Store().SaveAll(map[string][]byte{"m/production": []byte("stale"), "n/production": []byte("stale")}); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's batch write: %v, want ErrDeposed", err)
	}
	if err := ta.Store().Delete("m/production"); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's delete: %v, want ErrDeposed", err)
	}
	if err := ta.Fence(ctx); !errors.Is(err, ErrDeposed) {
		t.Fatalf("deposed leader's fence: %v, want ErrDeposed", err)
	}
	if err := tb.Store().Save("m/production", []byte("from b")); err != nil {
		t.Fatalf("new leader's write: %v", err)
	}
	got, _ := tb.Store().All()
	if string(got["m/production"]) != "from b" || got["n/production"] != nil {
		t.Fatalf("state = %q, want the new leader's", got["m/production"])
	}
	if l, _ := a.Leader(ctx); l != "b" {
		t.Fatalf("leader = %q, want b", l)
	}
}

func TestLeaderThatLosesEtcdStopsWithinTheTTL(t *testing.T) {
	srv := etcdtest.Start(t)
	n := connect(t, srv, "a", 2*time.Second)
	term := campaign(t, n)
	defer term.Close()
	srv.Stop()
	select {
	case <-term.Done():
	case <-time.After(30 * time.Second): // bounded; the lease is 2s
		t.Fatal("the term did not end after etcd went away")
	}
	if err := term.Store().Save("m/production", []byte("x")); !errors.Is(err, ErrDeposed) {
		t.Fatalf("write after the lease was lost: %v, want ErrDeposed", err)
	}
	srv.Restart()
	// etcd back: one replica leads again, and the old term stays dead.
	next := campaign(t, connect(t, srv, "b", 2*time.Second))
	defer next.Close()
	if err := next.Store().Save("m/production", []byte("y")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := term.Fence(ctx); !errors.Is(err, ErrDeposed) {
		t.Fatalf("old term after etcd came back: %v, want ErrDeposed", err)
	}
	resp, err := n.cli.Get(ctx, n.electionPrefix()+"/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "b" {
		t.Fatalf("election keys after the restart: %v %v, want only b's", resp, err)
	}
}
