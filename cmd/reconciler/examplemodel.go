package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/examplemodel"
)

// cmdExampleModel serves a stand-in for the model servers of the example
// that init writes, until ctx ends.
func cmdExampleModel(ctx context.Context, e *env, args []string) int {
	fl := flag.NewFlagSet("example-model", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	listen := fl.String("listen", "", "`ADDR` (host:port) to serve on, such as 127.0.0.1:9101")
	version := fl.String("version", "", "the version `NAME` sent in the X-Model-Version header")
	errorRate := fl.Float64("error-rate", 0, "the share `F` of requests answered with a 500, from 0 to 1 (0.3: three in ten)")
	latency := fl.Duration("latency", 0, "added to every answer")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: reconciler example-model --listen ADDR [--version NAME] [--error-rate F] [--latency D]")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, e, args); !ok {
		return code
	}
	if *listen == "" {
		fmt.Fprintln(e.stderr, "reconciler example-model: --listen is required")
		fl.Usage()
		return exitUsage
	}
	if *errorRate < 0 || *errorRate > 1 {
		fmt.Fprintf(e.stderr, "reconciler example-model: --error-rate %v is not between 0 and 1\n", *errorRate)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler example-model: %v\n", err)
		return exitUsage
	}
	srv := &http.Server{
		Handler:           examplemodel.Handler(examplemodel.Options{Version: *version, ErrorRate: *errorRate, Latency: *latency}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(e.stderr, "example model %s on http://%s: POST {\"amount\": N} answers {\"label\": \"fraud\"} from %d, else \"ok\"; %g%% of requests fail\n",
		*version, ln.Addr(), examplemodel.FraudAmount, *errorRate*100)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(e.stderr, "reconciler example-model: %v\n", err)
		return exitUsage
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return exitOK
}
