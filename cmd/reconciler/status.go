package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/reconcile"
)

// cmdStatus prints every model's rollout from a running reconciler.
func cmdStatus(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	server := fs.String("server", "http://127.0.0.1:9400", "the reconciler's --listen address")
	watch := fs.Bool("watch", false, "refresh every --every until interrupted")
	every := fs.Duration("every", 2*time.Second, "refresh period with --watch")
	tokenEnv := fs.String("token-env", "SWITCHYARD_STATUS_TOKEN", "environment variable holding the reconciler's status token (its --status-token-env), sent when set")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	base := *server
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		st, err := fetchStatus(ctx, client, strings.TrimSuffix(base, "/")+"/api/status", e.getenv(*tokenEnv))
		if err != nil {
			fmt.Fprintf(e.stderr, "reconciler status: %v\n", err)
			if !*watch {
				return exitUsage
			}
		} else {
			if *watch {
				fmt.Fprint(e.stdout, "\x1b[H\x1b[2J") // clear the screen
			}
			reconcile.RenderStatus(e.stdout, st)
		}
		if !*watch {
			return exitOK
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(*every):
		}
	}
}

func fetchStatus(ctx context.Context, c *http.Client, url, token string) (reconcile.Status, error) {
	var st reconcile.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return st, fmt.Errorf("cannot reach the reconciler (is `reconciler run --listen` up?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return st, fmt.Errorf("GET %s: %s: the reconciler needs its status token; put it in the variable named by --token-env", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET %s: bad status JSON: %w", url, err)
	}
	return st, nil
}
