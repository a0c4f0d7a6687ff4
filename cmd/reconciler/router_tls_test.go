package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/tlstest"
)

func TestRouterServesTrafficAndAdminOverTLS(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v1 %s", r.URL.Path)
	}))
	defer backend.Close()
	ca := tlstest.NewCA(t)
	trafficDir, adminDir := t.TempDir(), t.TempDir()
	cert, key := ca.Leaf(t, "traffic").Write(t, trafficDir)
	acert, akey := ca.Leaf(t, "admin").Write(t, adminDir)
	addrs, stop := runRouter(t, nil, "--tls-cert", cert, "--tls-key", key, "--admin-tls-cert", acert, "--admin-tls-key", akey)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	call := func(method, url, body string) (int, string, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	table := fmt.Sprintf(`{"routes":[{"model":"fraud","stage":"production","path":"/v1/fraud","backends":{"v1":%q},"weights":[{"version":"v1","percent":100}]}]}`, backend.URL)
	if code, body, cn := call("PUT", "https://"+addrs[1]+"/v1/routes", table); code != 200 || cn != "admin" {
		t.Fatalf("PUT over TLS: %d %s, certificate %q", code, body, cn)
	}
	if code, body, cn := call("GET", "https://"+addrs[0]+"/v1/fraud/predict", ""); code != 200 || body != "v1 /predict" || cn != "traffic" {
		t.Fatalf("traffic over TLS: %d %q, certificate %q", code, body, cn)
	}
	stop()
}

func TestRouterTLSFlagsGoInPairs(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--tls-cert", filepath.Join(dir, "c.pem")},
		{"--admin-tls-key", filepath.Join(dir, "k.pem")},
		{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", filepath.Join(dir, "missing-key.pem")},
	} {
		var stderr bytes.Buffer
		e := &env{stdout: io.Discard, stderr: &stderr, getenv: func(k string) string {
			return map[string]string{defaultRouterTokenEnv: "tok"}[k]
		}}
		code := cmdRouter(context.Background(), e, append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...))
		if code != exitUsage || !strings.Contains(stderr.String(), "reconciler router:") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
