package router

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/tlstest"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// serveTLS serves rt over TLS with the pair in certFile/keyFile, reloaded
// on the given clock, and returns the address.
func serveTLS(t *testing.T, rt *Router, certFile, keyFile string, now func() time.Time) string {
	t.Helper()
	cr, err := NewCertReloader(certFile, keyFile, CertOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(rt, ServerOptions{})
	go func() { _ = s.ServeTLS(ln, TLSConfig(cr)) }()
	t.Cleanup(func() { _ = s.Close() })
	return ln.Addr().String()
}

func httpsClient(ca *tlstest.CA) *http.Client {
	return &http.Client{Transport: &http.Transport{
		// Offers HTTP/2 first: the router chooses it (h2.go).
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true, // every request a new handshake: sees a rotation
	}}
}

func getEcho(t *testing.T, c *http.Client, url string) (echo, *http.Response) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e echo
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %d %q", url, resp.StatusCode, b)
	}
	return e, resp
}

func TestServeTLSProxiesAndReloadsCertificate(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	first := ca.Leaf(t, "first")
	certFile, keyFile := first.Write(t, dir)
	clock := newFakeClock()

	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, traffic.Route{Model: "m", Stage: "prod", Path: "/m",
		Backends: map[string]string{"v1": backendServer(t, "v1").URL}, Weights: weights("v1", 100)})
	addr := serveTLS(t, rt, certFile, keyFile, clock.Now)
	c := httpsClient(ca)

	e, resp := getEcho(t, c, "https://"+addr+"/m/predict")
	if e.Version != "v1" || e.Path != "/predict" {
		t.Fatalf("answer %+v", e)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 || resp.TLS.NegotiatedProtocol != "h2" || resp.ProtoMajor != 2 {
		t.Fatalf("TLS state %+v", resp.TLS)
	}
	if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	// Keep-alive over TLS on the hand-written path (a client that offers
	// no HTTP/2): two requests, one connection.
	kc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	for range 2 {
		if e, resp := getEcho(t, kc, "https://"+addr+"/m/x"); e.Version != "v1" || resp.ProtoMajor != 1 {
			t.Fatalf("answer %+v over %s", e, resp.Proto)
		}
	}

	// Renewed: the new files are served once the clock passes the check
	// interval, without a restart.
	second := ca.Leaf(t, "second")
	second.Write(t, dir)
	touch(t, certFile, keyFile)
	clock.Advance(6 * time.Second)
	if _, resp := getEcho(t, c, "https://"+addr+"/m/x"); resp.TLS.PeerCertificates[0].Subject.CommonName != "second" {
		t.Fatalf("after renewal served %q, want second", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}

	// A broken pair keeps the last good one.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, keyFile)
	clock.Advance(6 * time.Second)
	if _, resp := getEcho(t, c, "https://"+addr+"/m/x"); resp.TLS.PeerCertificates[0].Subject.CommonName != "second" {
		t.Fatalf("after a broken key served %q, want second", resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
}

// touch moves the files' modification time forward, so a rewrite within
// the file system's time resolution is still seen.
func touch(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, fi.ModTime().Add(time.Minute), fi.ModTime().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServeTLSRefusesOldTLSAndPlainText(t *testing.T) {
	ca := tlstest.NewCA(t)
	certFile, keyFile := ca.Leaf(t, "r").Write(t, t.TempDir())
	rt := newTestRouter(t, Options{})
	addr := serveTLS(t, rt, certFile, keyFile, nil)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS listener: %d", resp.StatusCode)
		}
	}
}

func TestCertReloaderChecksFilesAtMostEveryInterval(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := ca.Leaf(t, "a").Write(t, dir)
	clock := newFakeClock()
	stats := 0
	cr, err := NewCertReloader(certFile, keyFile, CertOptions{Now: clock.Now, Every: 5 * time.Second,
		Stat: func(f string) (fs.FileInfo, error) { stats++; return os.Stat(f) }})
	if err != nil {
		t.Fatal(err)
	}
	stats = 0
	for range 3 {
		if _, err := cr.GetCertificate(nil); err != nil {
			t.Fatal(err)
		}
	}
	if stats != 0 {
		t.Fatalf("%d stats within the interval", stats)
	}
	clock.Advance(5 * time.Second)
	if _, err := cr.GetCertificate(nil); err != nil {
		t.Fatal(err)
	}
	if stats != 2 {
		t.Fatalf("%d stats after the interval, want 2 (certificate and key)", stats)
	}
	if _, err := NewCertReloader(certFile, dir+"/missing.pem", CertOptions{}); err == nil {
		t.Fatal("a missing key loaded")
	}
}

// tlsBackend is an https backend whose certificate ca signed.
func tlsBackend(t *testing.T, ca *tlstest.CA, version string) string {
	t.Helper()
	s := httptest.NewUnstartedServer(backendServer(t, version).Config.Handler)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, version).Pair(t)}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

func TestHTTPSBackendTrustedByItsCAFile(t *testing.T) {
	frontCA, backCA := tlstest.NewCA(t), tlstest.NewCA(t)
	dir := t.TempDir()
	caFile := backCA.WriteCA(t, dir)
	certFile, keyFile := frontCA.Leaf(t, "router").Write(t, t.TempDir())

	rt := newTestRouter(t, Options{})
	secure, plain := tlsBackend(t, backCA, "v2"), backendServer(t, "v1").URL
	route := traffic.Route{Model: "m", Stage: "prod", Path: "/m",
		Backends: map[string]string{"v1": plain, "v2": secure},
		Weights:  weights("v2", 100)}
	// Without its CA file the backend's certificate is unknown: 502.
	mustUpdate(t, rt, route)
	addr := serveTLS(t, rt, certFile, keyFile, nil)
	c := httpsClient(frontCA)
	resp, err := c.Get("https://" + addr + "/m/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("an https backend signed by an unknown CA: %d, want 502", resp.StatusCode)
	}
	route.CAFiles = map[string]string{"v2": caFile}
	mustUpdate(t, rt, route)
	for range 3 {
		if e, _ := getEcho(t, c, "https://"+addr+"/m/x"); e.Version != "v2" || e.Path != "/x" {
			t.Fatalf("answer %+v", e)
		}
	}
	route.Weights = weights("v1", 100)
	mustUpdate(t, rt, route)
	if e, _ := getEcho(t, c, "https://"+addr+"/m/y"); e.Version != "v1" {
		t.Fatalf("plain backend behind a TLS listener: %+v", e)
	}
	if got := rt.Table().Routes[0].CAFiles["v2"]; got != caFile {
		t.Fatalf("table keeps ca_files %q", got)
	}

	for _, bad := range []map[string]string{
		{"v3": caFile},                       // unknown version
		{"v1": caFile},                       // not https
		{"v2": filepath.Join(dir, "no.pem")}, // unreadable
		{"v2": certFile + "x"},               // missing
	} {
		r := route
		r.CAFiles = bad
		if err := rt.Update(traffic.Table{Routes: []traffic.Route{r}}); err == nil {
			t.Errorf("ca_files %v accepted", bad)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	route.CAFiles = map[string]string{"v2": filepath.Join(dir, "junk.pem")}
	if err := rt.Update(traffic.Table{Routes: []traffic.Route{route}}); err == nil {
		t.Error("a CA file without a certificate accepted")
	}
}

// Under TLS the backend is told the client came over https, on the hand-written
// path and on the net/http path (a percent-encoded path is handed off).
func TestServeTLSForwardsProtoHTTPS(t *testing.T) {
	ca := tlstest.NewCA(t)
	certFile, keyFile := ca.Leaf(t, "edge").Write(t, t.TempDir())
	protos := make(chan string, 4)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Header.Get("X-Forwarded-Proto")
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(be.Close)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, traffic.Route{Model: "m", Stage: "prod", Path: "/m",
		Backends: map[string]string{"v1": be.URL}, Weights: weights("v1", 100)})
	addr := serveTLS(t, rt, certFile, keyFile, time.Now)
	c := httpsClient(ca)
	for _, path := range []string{"/m/plain", "/m/per%20cent"} {
		resp, err := c.Get("https://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		if got := <-protos; got != "https" {
			t.Errorf("%s: the backend saw X-Forwarded-Proto %q, want https", path, got)
		}
	}
}
