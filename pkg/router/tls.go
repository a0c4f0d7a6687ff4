package router

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router/internal/rawconn"
)

// CertOptions configure a CertReloader. Zero values take the defaults noted.
type CertOptions struct {
	// Every is how often, at most, the files are looked at again
	// (default 5s): handshakes in between take the pair in memory.
	Every time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Stat and ReadFile reach the files (default os.Stat and os.ReadFile).
	Stat     func(string) (fs.FileInfo, error)
	ReadFile func(string) ([]byte, error)
	// Logger reports a changed pair that could not be loaded (default: none).
	Logger *slog.Logger
}

// CertReloader serves the certificate pair in two PEM files and reads
// them again when either file's modification time or size changes, so a
// renewed certificate needs no restart. A changed pair that does not load
// (a half-written file, a key that does not match) is logged and the
// previous pair is served until the files are good again.
type CertReloader struct {
	certFile, keyFile string
	opts              CertOptions

	mu      sync.Mutex
	cert    *tls.Certificate
	seen    [2]fileMark // of the pair in cert, or of the last bad try
	checked time.Time
}

// fileMark is what tells that a file changed.
type fileMark struct {
	mod  time.Time
	size int64
}

// NewCertReloader loads the pair once; an error here is the caller's to
// report (a router must not start without its certificate).
func NewCertReloader(certFile, keyFile string, opts CertOptions) (*CertReloader, error) {
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stat == nil {
		opts.Stat = os.Stat
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, opts: opts}
	marks, err := c.marks()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.seen, c.checked = cert, marks, opts.Now()
	return c, nil
}

func (c *CertReloader) marks() ([2]fileMark, error) {
	var m [2]fileMark
	for i, f := range []string{c.certFile, c.keyFile} {
		fi, err := c.opts.Stat(f)
		if err != nil {
			return m, fmt.Errorf("TLS certificate pair: %w", err)
		}
		m[i] = fileMark{mod: fi.ModTime(), size: fi.Size()}
	}
	return m, nil
}

func (c *CertReloader) load() (*tls.Certificate, error) {
	certPEM, err := c.opts.ReadFile(c.certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	keyPEM, err := c.opts.ReadFile(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	return &cert, nil
}

// GetCertificate is tls.Config's GetCertificate: the current pair, read
// again first when the files changed since they were last looked at.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	if now.Sub(c.checked) < c.opts.Every {
		return c.cert, nil
	}
	c.checked = now
	marks, err := c.marks()
	if err != nil {
		c.opts.Logger.Warn("TLS certificate files unreadable; serving the previous certificate", "err", err)
		return c.cert, nil
	}
	if marks == c.seen {
		return c.cert, nil
	}
	c.seen = marks // a bad pair is tried again only once it changes again
	cert, err := c.load()
	if err != nil {
		c.opts.Logger.Warn("TLS certificate changed but does not load; serving the previous certificate", "err", err)
		return c.cert, nil
	}
	c.cert = cert
	c.opts.Logger.Info("TLS certificate reloaded", "cert", c.certFile)
	return c.cert, nil
}

// TLSConfig is the traffic listener's TLS configuration: TLS 1.2 or
// later, the reloader's certificate, and HTTP/2 or HTTP/1.1 by ALPN
// (h2.go).
func TLSConfig(c *CertReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// ServeTLS is Serve over TLS: every connection accepted on ln is served
// after a TLS handshake with cfg (see TLSConfig). The hand-written path serves
// TLS connections as it serves plain ones. Under TLS, as under Serve, the
// TCP connection is read and written with raw system calls (rawconn).
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	if cfg == nil || (cfg.GetCertificate == nil && len(cfg.Certificates) == 0) {
		ln.Close()
		return errors.New("router: ServeTLS needs a certificate")
	}
	return s.Serve(tls.NewListener(rawconn.Listener(ln), cfg))
}
