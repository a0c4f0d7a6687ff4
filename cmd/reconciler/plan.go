package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler plan'.
func cmdPlan(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler plan: not implemented yet")
	return exitUsage
}
