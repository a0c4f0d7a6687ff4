package action

import (
	"context"
	"errors"
)

// dispatch handles a workflow_dispatch with `rollback: <model>/<stage>`.
func (r *runner) dispatch(ctx context.Context) (int, error) {
	return ExitEnvironment, errors.New("rollback: not implemented yet")
}
