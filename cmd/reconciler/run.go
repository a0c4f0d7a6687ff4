package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler run'.
func cmdRun(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler run: not implemented yet")
	return exitUsage
}
