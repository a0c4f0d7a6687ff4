// Package ha lets several reconciler replicas share one job on etcd: they
// elect a leader with a lease (etcd's concurrency package), and the leader
// keeps the rollout state under a key prefix, every write fenced by its
// leadership so that a deposed leader's write fails.
package ha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// DefaultPrefix is where the replicas keep their keys.
const DefaultPrefix = "/switchyard"

// DefaultLeaseTTL is how long a leader that lost etcd may still believe it
// leads; after it, another replica takes over.
const DefaultLeaseTTL = 10 * time.Second

// ErrDeposed is wrapped by every fenced operation of a term that no longer
// holds the leadership.
var ErrDeposed = errors.New("no longer the leader")

// Config says how to reach etcd and who this replica is.
type Config struct {
	Endpoints []string
	Prefix    string        // default DefaultPrefix
	ID        string        // this replica's name, shown as the leader's
	LeaseTTL  time.Duration // default DefaultLeaseTTL; whole seconds, at least 1s
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// Node is one replica's connection to etcd.
type Node struct {
	cli *clientv3.Client
	cfg Config
	log *slog.Logger
}

// Connect opens the etcd client. It does not wait for etcd to answer:
// Campaign does.
func Connect(cfg Config) (*Node, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no etcd endpoints given")
	}
	if cfg.ID == "" {
		return nil, errors.New("a replica needs an ID (--id)")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseTTL < time.Second {
		return nil, fmt.Errorf("lease TTL %s is under the 1s etcd counts in", cfg.LeaseTTL)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		// Keep-alives notice a dead connection well inside the TTL.
		DialKeepAliveTime:    cfg.LeaseTTL / 3,
		DialKeepAliveTimeout: cfg.LeaseTTL / 3,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return &Node{cli: cli, cfg: cfg, log: cfg.Logger}, nil
}

// ID is this replica's name.
func (n *Node) ID() string { return n.cfg.ID }

// Close closes the client.
func (n *Node) Close() error { return n.cli.Close() }

func (n *Node) electionPrefix() string { return n.cfg.Prefix + "/leader" }
func (n *Node) statePrefix() string    { return n.cfg.Prefix + "/state/" }

// Leader returns the ID of the current leader ("" when there is none).
func (n *Node) Leader(ctx context.Context) (string, error) {
	resp, err := n.cli.Get(ctx, n.electionPrefix()+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("reading the leader from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// Term is one leadership: from winning the election until its lease ends
// or it resigns.
type Term struct {
	node     *Node
	session  *concurrency.Session
	election *concurrency.Election
	key      string
	rev      int64 // CreateRevision of key: what every write is fenced on
}

// Campaign waits until this replica is the leader and returns its term.
// It returns early with an error when ctx ends or the lease it campaigns
// with is lost (etcd unreachable for longer than the TTL).
func (n *Node) Campaign(ctx context.Context) (*Term, error) {
	ttl := int(n.cfg.LeaseTTL / time.Second)
	// The session outlives ctx (it is the term's); ctx bounds the wait.
	session, err := newSession(ctx, n.cli, ttl)
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-session.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	e := concurrency.NewElection(session, n.electionPrefix()+"/")
	if err := e.Campaign(cctx, n.cfg.ID); err != nil {
		_ = session.Close()
		return nil, fmt.Errorf("campaigning for leader: %w", err)
	}
	t := &Term{node: n, session: session, election: e, key: e.Key(), rev: e.Rev()}
	// Campaign also returns when our own key vanished with a lease that
	// expired while etcd was away: make sure we really lead.
	if err := t.Fence(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Done is closed when the term's lease is lost: the leader must stop
// acting at once.
func (t *Term) Done() <-chan struct{} { return t.session.Done() }

// fenced is the condition of every write of the term.
func (t *Term) fenced() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(t.key), "=", t.rev)
}

// Fence returns nil when the term still holds the leadership in etcd, and
// an error wrapping ErrDeposed when it does not.
func (t *Term) Fence(ctx context.Context) error {
	return t.txn(ctx, "checking the leadership")
}

func (t *Term) txn(ctx context.Context, what string, ops ...clientv3.Op) error {
	select {
	case <-t.session.Done():
		return fmt.Errorf("%s: %w: the etcd lease was lost", what, ErrDeposed)
	default:
	}
	resp, err := t.node.cli.Txn(ctx).If(t.fenced()).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("%s in etcd: %w", what, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s: %w: the election key %s is gone or was re-created", what, ErrDeposed, t.key)
	}
	return nil
}

// Resign gives the leadership up and ends the term.
func (t *Term) Resign(ctx context.Context) error {
	err := t.election.Resign(ctx)
	t.Close()
	return err
}

// Close ends the term's session (revoking its lease when etcd answers).
func (t *Term) Close() { _ = t.session.Close() }

// Store is the term's view of the rollout state: one key per model under
// the prefix. It satisfies the reconcile daemon's Store.
func (t *Term) Store() *Store { return &Store{t: t, timeout: t.node.cfg.LeaseTTL} }

// Store keeps one small value per key under <prefix>/state/. Save and
// Delete are fenced by the term: a deposed leader's write fails with
// ErrDeposed and changes nothing.
type Store struct {
	t       *Term
	timeout time.Duration
}

// Save writes value under key if the term still leads.
func (s *Store) Save(key string, value []byte) error {
	if key == "" {
		return errors.New("save state: empty key")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.t.txn(ctx, "saving state for "+key, clientv3.OpPut(s.t.node.statePrefix()+key, string(value)))
}

// Bounds of one SaveAll transaction: etcd refuses a transaction of more
// than --max-txn-ops operations (128 by default) or a request over
// --max-request-bytes (1.5 MiB by default).
const (
	maxTxnOps   = 128
	maxTxnBytes = 1 << 20
)

// SaveAll writes every key and value, in as few fenced transactions as
// etcd's default limits allow (128 puts and 1 MiB each): a first pass over
// 10,000 models is about 80 round trips, not 10,000. Each transaction is
// all or nothing; an error (ErrDeposed once the term no longer leads) stops
// at the first that fails, and the caller writes every key again.
func (s *Store) SaveAll(values map[string][]byte) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		if k == "" {
			return errors.New("save state: empty key")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for len(keys) > 0 {
		var ops []clientv3.Op
		size := 0
		for len(keys) > 0 && len(ops) < maxTxnOps {
			k := keys[0]
			n := len(s.t.node.statePrefix()) + len(k) + len(values[k])
			if len(ops) > 0 && size+n > maxTxnBytes {
				break
			}
			ops = append(ops, clientv3.OpPut(s.t.node.statePrefix()+k, string(values[k])))
			size += n
			keys = keys[1:]
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.t.txn(ctx, fmt.Sprintf("saving the state of %d models", len(ops)), ops...)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key if the term still leads.
func (s *Store) Delete(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.t.txn(ctx, "deleting state for "+key, clientv3.OpDelete(s.t.node.statePrefix()+key))
}

// All reads every key and value.
func (s *Store) All() (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	resp, err := s.t.node.cli.Get(ctx, s.t.node.statePrefix(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading state from etcd: %w", err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), s.t.node.statePrefix())] = kv.Value
	}
	return out, nil
}

// newSession grants the lease within ctx's bounds; the session then lives
// until closed or its lease is lost.
func newSession(ctx context.Context, cli *clientv3.Client, ttl int) (*concurrency.Session, error) {
	resp, err := cli.Grant(ctx, int64(ttl))
	if err != nil {
		return nil, err
	}
	return concurrency.NewSession(cli, concurrency.WithTTL(ttl), concurrency.WithLease(resp.ID))
}
