package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler demo'.
func cmdDemo(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler demo: not implemented yet")
	return exitUsage
}
