package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler fmt'.
func cmdFmt(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler fmt: not implemented yet")
	return exitUsage
}
