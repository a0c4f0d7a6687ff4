package gitops

import (
	"io/fs"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentReadsAndFetch reads trees while fetches land (run with -race).
func TestConcurrentReadsAndFetch(t *testing.T) {
	srv, r, _ := setup(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			fsys, _, err := r.TreeAt("HEAD")
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := fs.ReadFile(fsys, fraudFile); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 5 {
		srv.CommitAs("specs", "docs", map[string]string{"README.md": strings.Repeat("x", i+1)})
		mustFetch(t, r)
	}
	close(stop)
	wg.Wait()
}
