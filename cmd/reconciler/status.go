package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler status'.
func cmdStatus(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler status: not implemented yet")
	return exitUsage
}
