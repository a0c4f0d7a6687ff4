package gitops

import (
	"context"
	"fmt"

	git "github.com/go-git/go-git/v5"
)

// Repack packs every object of the clone into one packfile and deletes
// the packs that fetches piled up (go-git slows down as they grow). The
// daemon calls it periodically.
func (r *Repo) Repack(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.repo.RepackObjects(&git.RepackConfig{}); err != nil {
		return fmt.Errorf("repack %s: %w", r.opts.Dir, err)
	}
	// The object storage caches the pack list and indexes it loaded:
	// reopen the clone so that it reads the new pack.
	repo, err := git.PlainOpen(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("reopen %s after repack: %w", r.opts.Dir, err)
	}
	r.repo = repo
	return nil
}
