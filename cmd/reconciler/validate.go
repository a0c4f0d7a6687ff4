package main

import (
	"context"
	"fmt"
)

// PLACEHOLDER: replaced by the implementation of 'reconciler validate'.
func cmdValidate(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "reconciler validate: not implemented yet")
	return exitUsage
}
