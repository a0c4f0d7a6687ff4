package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/switchyard-dev/switchyard/pkg/tlstest"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// h2cClient speaks HTTP/2 in clear text with prior knowledge; it counts
// the connections it opens.
func h2cClient(dials *int, mu *sync.Mutex) *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			mu.Lock()
			*dials++
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestH2CPriorKnowledgeIsRoutedLikeHTTP1(t *testing.T) {
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, traffic.Route{Model: "m", Stage: "prod", Path: "/m",
		Backends: map[string]string{"v1": backendServer(t, "v1").URL, "v2": backendServer(t, "v2").URL},
		Weights:  weights("v1", 100), Preview: &traffic.Preview{Header: "X-Preview", Version: "v2"}})
	front := serve(t, rt)
	var dials int
	var mu sync.Mutex
	c := h2cClient(&dials, &mu)

	// Many requests at once, over one connection.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", front.URL+"/m/predict?i="+fmt.Sprint(i), strings.NewReader("body"))
			if i%2 == 1 {
				req.Header.Set("X-Preview", "1")
			}
			resp, err := c.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var e echo
			b, _ := io.ReadAll(resp.Body)
			want := map[int]string{0: "v1", 1: "v2"}[i%2]
			if err := json.Unmarshal(b, &e); err != nil || resp.ProtoMajor != 2 || e.Version != want || e.Body != "body" ||
				e.Path != "/predict" || resp.Header.Get(hdrVersion) != want || resp.Header.Get(hdrRequestID) == "" {
				errs <- fmt.Errorf("request %d over %s: %d %s", i, resp.Proto, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dials != 1 {
		t.Errorf("%d connections for 20 concurrent requests, want 1", dials)
	}
	st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "prod", "v1")
	if st.Requests != 10 {
		t.Errorf("v1 measured %d requests, want 10", st.Requests)
	}
}

func TestHTTP1RequestsStartingWithPStayOnTheHandWrittenPath(t *testing.T) {
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": backendServer(t, "v1").URL}, weights("v1", 100)))
	ls := startServer(t, rt, ServerOptions{})
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		rc := dialRaw(t, ls.addr)
		// Sent one byte at a time: the preface check must not wait for
		// more than the request has.
		req := fmt.Sprintf("%s /v1/m/x HTTP/1.1\r\nHost: r\r\nContent-Length: 2\r\n\r\nhi", method)
		for i := range len(req) {
			rc.send(req[i : i+1])
		}
		a := rc.mustRead(method)
		if a.resp.StatusCode != 200 || decodeSeenEcho(t, a).Method != method {
			t.Fatalf("%s: %d %s", method, a.resp.StatusCode, a.body)
		}
	}
	if n := ls.handoffs.Load(); n != 0 {
		t.Fatalf("%d connections handed to net/http, want none", n)
	}
}

func decodeSeenEcho(t *testing.T, a answer) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("answer %q: %v", a.body, err)
	}
	return e
}

func TestUpgradeToH2C(t *testing.T) {
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": backendServer(t, "v1").URL}, weights("v1", 100)))
	front := serve(t, rt)
	c, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))

	// An empty SETTINGS payload, as curl --http2 sends.
	settings := base64.RawURLEncoding.EncodeToString(nil)
	fmt.Fprintf(c, "POST /v1/m/up HTTP/1.1\r\nHost: r\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: %s\r\nContent-Length: 5\r\n\r\nhello", settings)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "h2c" {
		t.Fatalf("upgrade answer %v %v", resp, err)
	}
	// Now HTTP/2: the preface, then the answer to the upgrade request
	// arrives on stream 1.
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	status, body := readStream(t, fr, 1)
	var e echo
	if err := json.Unmarshal(body, &e); status != "200" || err != nil || e.Version != "v1" || e.Body != "hello" || e.Path != "/up" {
		t.Fatalf("stream 1: %s %q", status, body)
	}
	// The backend was not asked to upgrade.
	if e.Headers["Upgrade"] != "" || e.Headers["Http2-Settings"] != "" {
		t.Fatalf("backend saw %v", e.Headers)
	}
}

// readStream reads frames until stream id ends, and returns its :status
// and body.
func readStream(t *testing.T, fr *http2.Framer, id uint32) (status string, body []byte) {
	t.Helper()
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	var buf bytes.Buffer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading stream %d: %v (so far %s %q)", id, err, status, buf.Bytes())
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID == id {
				if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
					t.Fatal(err)
				}
				if f.StreamEnded() {
					return status, buf.Bytes()
				}
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				buf.Write(f.Data())
				if f.StreamEnded() {
					return status, buf.Bytes()
				}
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v before stream %d ended", f.ErrCode, id)
		}
	}
}

func TestAnH2CUpgradeNeedsUpgradeSettingsAndConnection(t *testing.T) {
	if !asksH2C(&http.Request{Header: http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade, HTTP2-Settings"}, "Http2-Settings": {""}}}) {
		t.Fatal("a well-formed h2c upgrade request is not recognised")
	}
	for _, h := range []http.Header{
		{"Upgrade": {"websocket"}, "Connection": {"Upgrade, HTTP2-Settings"}, "Http2-Settings": {""}},
		{"Upgrade": {"h2c"}, "Connection": {"Upgrade"}, "Http2-Settings": {""}},
		{"Upgrade": {"h2c"}, "Connection": {"Upgrade, HTTP2-Settings"}},
	} {
		if asksH2C(&http.Request{Header: h}) {
			t.Fatalf("%v taken for an h2c upgrade", h)
		}
	}
}

func TestShutdownLetsHTTP2StreamsFinish(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(slowSrv.Close)
	slow := slowSrv.URL
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": slow}, weights("v1", 100)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(rt, ServerOptions{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	var dials int
	var mu sync.Mutex
	c := h2cClient(&dials, &mu)
	got := make(chan string, 1)
	go func() {
		resp, err := c.Get("http://" + ln.Addr().String() + "/v1/m/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	select {
	case <-started:
	case b := <-got:
		t.Fatalf("answered %q before the backend was asked", b)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("the stream in flight got %q", b)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
}

// h2cBackend serves h over HTTP/2 in clear text only (prior knowledge),
// counting the connections it accepts; it returns the h2c:// URL.
func h2cBackend(t *testing.T, h http.Handler, conns *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	s.Protocols.SetUnencryptedHTTP2(true)
	s.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "h2c://" + ln.Addr().String()
}

func TestH2CVersionIsReachedOverOneMultiplexedConnection(t *testing.T) {
	var conns, arrived atomic.Int64
	var mu sync.Mutex
	protos := map[string]int{}
	// The 20 requests after the first are answered once all of them have
	// arrived: they overlap on the version's one connection.
	allIn := make(chan struct{})
	be := h2cBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos[r.Proto]++
		mu.Unlock()
		switch n := arrived.Add(1); {
		case n == 21:
			close(allIn)
		case n > 1:
			select {
			case <-allIn:
			case <-time.After(10 * time.Second):
			}
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}), &conns)
	rt := newTestRouter(t, Options{})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be + "/base"}, weights("v1", 100)))
	front := serve(t, rt)
	get := func(path string) error {
		resp, err := http.Get(front.URL + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "/base/x" {
			return fmt.Errorf("%s: %d %q", path, resp.StatusCode, b)
		}
		return nil
	}
	if err := get("/v1/m/x"); err != nil { // the connection is made
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- get("/v1/m/x") }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if protos["HTTP/2.0"] != 21 || len(protos) != 1 {
		t.Errorf("the version saw %v, want 21 HTTP/2.0 requests", protos)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the version accepted %d connections for 21 requests, want 1", n)
	}
}

func TestH2CVersionThatDoesNotAnswerTimesOut(t *testing.T) {
	var conns atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	be := h2cBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), &conns)
	rt := newTestRouter(t, Options{BackendTimeout: 50 * time.Millisecond})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": be}, weights("v1", 100)))
	resp, err := http.Get(serve(t, rt).URL + "/v1/m/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("answered %d, want 504", resp.StatusCode)
	}
	if st := find(t, rt.Stats(rt.opts.StatsHorizon), "m", "production", "v1"); st.Errors != 1 {
		t.Fatalf("stats %+v, want the timeout counted as an error", st)
	}
}

func TestHTTPSVersionOfferingH2IsReachedOverHTTP2(t *testing.T) {
	ca := tlstest.NewCA(t)
	caFile := ca.WriteCA(t, t.TempDir())
	var mu sync.Mutex
	protos := map[string]int{}
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos[r.Proto]++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	be.EnableHTTP2 = true
	be.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "v1").Pair(t)}}
	be.StartTLS()
	t.Cleanup(be.Close)
	rt := newTestRouter(t, Options{})
	route := mkRoute("m", map[string]string{"v1": be.URL}, weights("v1", 100))
	route.CAFiles = map[string]string{"v1": caFile}
	mustUpdate(t, rt, route)
	front := serve(t, rt)
	for range 3 {
		resp, err := http.Get(front.URL + "/v1/m/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("answered %d %q", resp.StatusCode, b)
		}
	}
	if protos["HTTP/2.0"] != 3 {
		t.Fatalf("the version saw %v, want 3 HTTP/2.0 requests", protos)
	}
}

func TestDeclinedH2CUpgradeIsAnsweredOverHTTP1AndCloses(t *testing.T) {
	// Over MaxBodyBytes the upgrade is declined; the gate reads nothing
	// after an upgrade request, so the connection must not be reused.
	rt := newTestRouter(t, Options{MaxBodyBytes: 4})
	mustUpdate(t, rt, mkRoute("m", map[string]string{"v1": backendServer(t, "v1").URL}, weights("v1", 100)))
	rc := dialRaw(t, stdAddr(serve(t, rt)))
	rc.send("POST /v1/m/up HTTP/1.1\r\nHost: r\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: \r\nContent-Length: 5\r\n\r\nhello" +
		"GET /v1/m/smuggled HTTP/1.1\r\nHost: r\r\n\r\n")
	a := rc.mustRead("POST")
	e := decodeSeenEcho(t, a)
	if a.resp.StatusCode != 200 || a.resp.ProtoMajor != 1 || e.Body != "hello" || e.Headers["Upgrade"] != "" || !a.resp.Close {
		t.Fatalf("declined upgrade: %d %s close=%v %+v", a.resp.StatusCode, a.resp.Proto, a.resp.Close, e)
	}
	rc.expectClosed()
}
