package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

const (
	defaultRouterTokenEnv = "SWITCHYARD_ROUTER_TOKEN"
	routerGCPercent       = 400 // unless GOGC is set
)

// cmdRouter serves a standalone builtin router: traffic on --listen and the
// admin API (SPEC.md §5) on --admin, until ctx ends; then it stops taking
// connections, lets requests in flight finish and drains the shadow queue.
func cmdRouter(ctx context.Context, e *env, args []string) int {
	fl := flag.NewFlagSet("router", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	listen := fl.String("listen", "", "traffic `ADDR` (host:port)")
	adminAddr := fl.String("admin", "", "admin API `ADDR` (host:port)")
	tokenEnv := fl.String("token-env", defaultRouterTokenEnv, "environment variable `NAME` holding the admin API's bearer token")
	routes := fl.String("routes", "", "optional JSON routing table `FILE` to serve at start (as PUT /v1/routes takes)")
	pipeline := fl.Int("shadow-pipeline", 0, "send up to `N` waiting shadow copies per write over HTTP/1.1 pipelining (for shadows that support it; 0 or 1: one at a time)")
	fbTokenEnv := fl.String("feedback-token-env", "", "environment variable `NAME` holding the bearer token POST /_switchyard/feedback needs (default: none needed)")
	idKeyEnv := fl.String("request-id-key-env", "", "environment variable `NAME` holding the key that signs request ids, shared by a fleet (default: random per start)")
	fbWindow := fl.Duration("feedback-window", 24*time.Hour, "how long after its request feedback is taken")
	fbRate := fl.Int("feedback-rate", 0, "feedback posts per second allowed per client address (0: no limit)")
	tlsCert := fl.String("tls-cert", "", "serve traffic over TLS with the PEM certificate (chain) `FILE`, read again when it changes (needs --tls-key)")
	tlsKey := fl.String("tls-key", "", "the PEM private key `FILE` of --tls-cert")
	adminTLSCert := fl.String("admin-tls-cert", "", "serve the admin API over TLS with the PEM certificate `FILE`, read again when it changes (needs --admin-tls-key)")
	adminTLSKey := fl.String("admin-tls-key", "", "the PEM private key `FILE` of --admin-tls-cert")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: reconciler router --listen ADDR --admin ADDR [--token-env NAME] [--routes FILE] [--shadow-pipeline N] [--feedback-token-env NAME] [--request-id-key-env NAME] [--feedback-window D] [--feedback-rate N] [--tls-cert FILE --tls-key FILE] [--admin-tls-cert FILE --admin-tls-key FILE]")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, e, args); !ok {
		return code
	}
	if *listen == "" || *adminAddr == "" {
		fmt.Fprintln(e.stderr, "reconciler router: --listen and --admin are required")
		fl.Usage()
		return exitUsage
	}
	for _, p := range []struct{ flag, cert, key string }{{"tls", *tlsCert, *tlsKey}, {"admin-tls", *adminTLSCert, *adminTLSKey}} {
		if (p.cert == "") != (p.key == "") {
			fmt.Fprintf(e.stderr, "reconciler router: --%s-cert and --%s-key go together: give both or neither\n", p.flag, p.flag)
			return exitUsage
		}
	}
	token := e.getenv(*tokenEnv)
	if token == "" {
		fmt.Fprintf(e.stderr, "reconciler router: the admin API needs a bearer token: set the environment variable %s (or name another with --token-env)\n", *tokenEnv)
		return exitUsage
	}
	opts := router.Options{ShadowPipeline: *pipeline, FeedbackWindow: *fbWindow, FeedbackRate: *fbRate}
	for _, v := range []struct {
		flag, name string
		set        func(string)
	}{
		{"--feedback-token-env", *fbTokenEnv, func(s string) { opts.FeedbackToken = s }},
		{"--request-id-key-env", *idKeyEnv, func(s string) { opts.RequestIDKey = []byte(s) }},
	} {
		if v.name == "" {
			continue
		}
		val := e.getenv(v.name)
		if val == "" {
			fmt.Fprintf(e.stderr, "reconciler router: %s names %s, which is not set or empty\n", v.flag, v.name)
			return exitUsage
		}
		v.set(val)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	opts.Logger = logger
	if e.getenv("GOGC") == "" {
		// A proxy's heap is small and short-lived: collecting it less often
		// buys about 15% more requests per second on 2 cores for a few MB.
		debug.SetGCPercent(routerGCPercent)
	}
	var trafficTLS, adminTLS *tls.Config
	for _, p := range []struct {
		cert, key string
		cfg       **tls.Config
	}{{*tlsCert, *tlsKey, &trafficTLS}, {*adminTLSCert, *adminTLSKey, &adminTLS}} {
		if p.cert == "" {
			continue
		}
		cr, err := router.NewCertReloader(p.cert, p.key, router.CertOptions{Logger: logger})
		if err != nil {
			fmt.Fprintf(e.stderr, "reconciler router: %v\n", err)
			return exitUsage
		}
		*p.cfg = router.TLSConfig(cr)
	}
	rt := router.New(opts)
	if *routes != "" {
		if err := loadRoutes(rt, *routes); err != nil {
			fmt.Fprintf(e.stderr, "reconciler router: %v\n", err)
			rt.Close()
			return exitUsage
		}
	}
	trafficLn, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler router: cannot listen for traffic: %v\n", err)
		rt.Close()
		return exitUsage
	}
	admin, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		trafficLn.Close()
		fmt.Fprintf(e.stderr, "reconciler router: cannot listen for the admin API: %v\n", err)
		rt.Close()
		return exitUsage
	}
	data := router.NewServer(rt, router.ServerOptions{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute})
	adminSrv := &http.Server{Handler: router.NewAdminHandler(rt, token), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	errc := make(chan error, 2)
	if trafficTLS != nil {
		go func() { errc <- data.ServeTLS(trafficLn, trafficTLS) }()
	} else {
		go func() { errc <- data.Serve(trafficLn) }()
	}
	if adminTLS != nil {
		adminSrv.TLSConfig = adminTLS
		go func() { errc <- adminSrv.ServeTLS(admin, "", "") }()
	} else {
		go func() { errc <- adminSrv.Serve(admin) }()
	}
	logger.Info("router serving", "listen", trafficLn.Addr().String(), "admin", admin.Addr().String(), "tls", trafficTLS != nil, "admin_tls", adminTLS != nil)

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-errc:
		logger.Error("router server stopped", "err", err)
		code = exitUsage
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := data.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	if err := adminSrv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	if err := rt.Shutdown(shutCtx); err != nil {
		logger.Warn("shadow queue not drained", "err", err)
	}
	logger.Info("router stopped")
	return code
}

func loadRoutes(rt *router.Router, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading --routes: %w", err)
	}
	var t traffic.Table
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("--routes %s is not a JSON routing table: %w", path, err)
	}
	if err := rt.Update(t); err != nil {
		return fmt.Errorf("--routes %s: %w", path, err)
	}
	return nil
}
