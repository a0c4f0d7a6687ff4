// Package wait is the one real sleeper behind the injected ones: it waits
// for a duration unless a context ends first.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, when it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
