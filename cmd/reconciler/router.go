package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler router'.
func cmdRouter(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler router: not implemented yet")
	return exitUsage
}
