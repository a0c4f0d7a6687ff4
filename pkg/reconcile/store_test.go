package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flakyStore fails the model state writes it is told to, then works.
type flakyStore struct {
	memStore
	mu       sync.Mutex
	failures int // writes (Save or SaveAll calls) still to fail
	calls    []int
	batch    bool
}

func (s *flakyStore) fail() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return true
	}
	return false
}

func (s *flakyStore) Save(k string, v []byte) error {
	if s.batch && k != appliedKey {
		return errors.New("a batch store was written key by key")
	}
	if k != appliedKey && s.fail() {
		return errors.New("etcd unavailable")
	}
	return s.memStore.Save(k, v)
}

// batchStore is a flakyStore that writes many keys at once.
type batchStore struct{ *flakyStore }

func (s batchStore) SaveAll(values map[string][]byte) error {
	s.mu.Lock()
	s.calls = append(s.calls, len(values))
	s.mu.Unlock()
	if s.fail() {
		return errors.New("etcd unavailable")
	}
	for k, v := range values {
		if err := s.memStore.Save(k, v); err != nil {
			return err
		}
	}
	return nil
}

func storeHarness(t *testing.T, store Store) *harness {
	h := &harness{t: t, clock: &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		repo: newFakeRepo(), target: &fakeTarget{}, measure: &fakeMeasurer{errorRate: map[string]float64{}}}
	d, err := New(Config{PollInterval: time.Hour}, Deps{
		Repo: h.repo, Check: check, Routers: h.target, Measurer: h.measure, Store: store, Clock: h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h
}

// A state whose write failed is written again on the next pass, even when
// nothing changed in between: the store never stays behind the engine.
func TestFailedStateWriteIsRetried(t *testing.T) {
	for _, batch := range []bool{false, true} {
		fs := &flakyStore{memStore: memStore{m: map[string][]byte{}}, failures: 1, batch: batch}
		var store Store = fs
		if batch {
			store = batchStore{fs}
		}
		h := storeHarness(t, store)
		h.repo.commit("v1")
		_ = h.d.Reconcile(context.Background())
		if got, _ := fs.All(); got["fraud/production"] != nil {
			t.Fatalf("batch %v: the failed write stored %s", batch, got["fraud/production"])
		}
		h.clock.Advance(time.Second)
		if err := h.d.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, _ := fs.All()
		if _, ok := got["fraud/production"]; !ok {
			t.Fatalf("batch %v: after the next pass the store holds %v, want fraud/production", batch, got)
		}
		h.clock.Advance(time.Second)
		_ = h.d.Reconcile(context.Background())
		if batch && (len(fs.calls) != 2 || fs.calls[0] != 1 || fs.calls[1] != 1) {
			t.Errorf("SaveAll calls of sizes %v, want [1 1] (the failed one, its retry, nothing in steady state)", fs.calls)
		}
	}
}
