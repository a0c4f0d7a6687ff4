package router

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// caTransport is the transport of the https:// versions whose certificate
// is checked against one CA file (traffic.Route.CAFiles) instead of the
// system's roots. It is kept across table updates while the file's
// contents stay the same, so its pooled connections survive them.
type caTransport struct {
	pem []byte
	t   *http.Transport
}

// checkCAFiles reports the table's CA files that name an unknown version
// or a version that is not https://.
func checkCAFiles(r traffic.Route, bad func(format string, args ...any)) {
	for _, v := range sortedKeys(r.CAFiles) {
		u, ok := r.Backends[v]
		switch {
		case !ok:
			bad("ca_files names version %q, which has no backend", v)
		case r.CAFiles[v] == "":
			bad("ca_files of version %q is empty", v)
		case !strings.HasPrefix(strings.ToLower(u), "https://"):
			bad("ca_files of version %q: its URL %q is not https", v, u)
		}
	}
}

// caTransports reads every CA file of t and returns, by file, the
// transport that trusts it. The caller holds rt.mu.
func (rt *Router) caTransports(t traffic.Table) (map[string]*caTransport, error) {
	out := map[string]*caTransport{}
	for _, r := range t.Routes {
		for _, v := range sortedKeys(r.CAFiles) {
			f := r.CAFiles[v]
			if out[f] != nil {
				continue
			}
			pem, err := rt.opts.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("route %s/%s version %q: ca file: %w", r.Model, r.Stage, v, err)
			}
			if old := rt.cas[f]; old != nil && bytes.Equal(old.pem, pem) {
				out[f] = old
				continue
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("route %s/%s version %q: ca file %s holds no PEM certificate", r.Model, r.Stage, v, f)
			}
			tr := newTransport(rt.opts.BackendTimeout)
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			out[f] = &caTransport{pem: pem, t: tr}
		}
	}
	return out, nil
}

// swapCATransports keeps cas as the router's and closes the idle
// connections of the transports no longer used. The caller holds rt.mu.
func (rt *Router) swapCATransports(cas map[string]*caTransport) {
	for f, old := range rt.cas {
		if cas[f] != old {
			old.t.CloseIdleConnections()
		}
	}
	rt.cas = cas
}

// backendTransport is the transport of version v of route tr: its CA
// file's, HTTP/2 in clear text for h2c:// (grpc.go), or nil for the
// router's own. The caller holds rt.mu.
func (rt *Router) backendTransport(tr traffic.Route, v string, target *url.URL) http.RoundTripper {
	if target.Scheme == "h2c" {
		return rt.h2c
	}
	if f, ok := tr.CAFiles[v]; ok && target.Scheme == "https" {
		if ct := rt.cas[f]; ct != nil {
			return ct.t
		}
	}
	return nil
}
