// Command gh-action is Switchyard's GitHub Action: it reads the workflow's
// environment and event, and runs pkg/action. action.yml builds and runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchyard-dev/switchyard/pkg/action"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cfg, err := configFromEnv(os.Getenv)
	code := action.ExitEnvironment
	if err != nil {
		os.Stderr.WriteString("switchyard: " + err.Error() + "\n")
	} else {
		cfg.Stdout, cfg.Stderr = os.Stdout, os.Stderr
		code = action.Run(ctx, cfg)
	}
	stop()
	os.Exit(code)
}
