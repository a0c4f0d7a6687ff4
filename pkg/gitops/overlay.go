package gitops

import (
	"fmt"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage"
)

// overlay is a storage that reads a repository's objects and keeps the
// objects written to it in memory: an outcome computed on it (to compare
// with a commit, see RecogniseOutcome) leaves nothing in the repository.
type overlay struct {
	storage.Storer

	mu      sync.Mutex
	written map[plumbing.Hash]plumbing.EncodedObject
}

// scratch returns a repository over repo's objects and references whose
// writes stay in memory.
func scratch(repo *git.Repository) (*git.Repository, error) {
	r, err := git.Open(&overlay{Storer: repo.Storer, written: map[plumbing.Hash]plumbing.EncodedObject{}}, nil)
	if err != nil {
		return nil, fmt.Errorf("open a scratch view of the repository: %w", err)
	}
	return r, nil
}

func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := obj.Hash()
	o.written[h] = obj
	return h, nil
}

func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o.mu.Lock()
	obj, ok := o.written[h]
	o.mu.Unlock()
	if ok {
		if t != plumbing.AnyObject && obj.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return obj, nil
	}
	return o.Storer.EncodedObject(t, h)
}

func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	o.mu.Lock()
	_, ok := o.written[h]
	o.mu.Unlock()
	if ok {
		return nil
	}
	return o.Storer.HasEncodedObject(h)
}

func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	o.mu.Lock()
	obj, ok := o.written[h]
	o.mu.Unlock()
	if ok {
		return obj.Size(), nil
	}
	return o.Storer.EncodedObjectSize(h)
}
