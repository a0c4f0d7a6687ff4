// Package state persists the reconciler's engine state, one opaque JSON
// value per model key, in a single bbolt file so that a restart resumes
// every rollout at the step it had reached.
package state

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketName = []byte("switchyard")

// Store is the persisted state file. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (or creates) the state file at path. Only one process may
// hold it: a second Open of the same file fails after a short wait.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open state file %s: it is locked by another process (is another reconciler running?)", path)
		}
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise state file %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Save stores value under key. When Save returns nil the value is on disk
// (bbolt fsyncs every committed transaction).
func (s *Store) Save(key string, value []byte) error {
	if key == "" {
		return errors.New("save state: empty key")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("save state for %s: %w", key, err)
	}
	return nil
}

// Delete removes key; deleting a missing key is not an error.
func (s *Store) Delete(key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("delete state for %s: %w", key, err)
	}
	return nil
}

// Load returns the value stored under key, and false when there is none.
func (s *Store) Load(key string) ([]byte, bool, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketName).Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("load state for %s: %w", key, err)
	}
	return out, out != nil, nil
}

// All returns a copy of every key and value.
func (s *Store) All() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return out, nil
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file: %w", err)
	}
	return nil
}
