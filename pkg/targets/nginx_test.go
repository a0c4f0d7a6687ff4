package targets

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/spec"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

func TestNginxApplyIdempotentAndChecked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "switchyard.conf")
	run := &fakeRunner{}
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: file, Listen: "127.0.0.1:8080",
		Command: []string{"nginx", "-p", dir}}, Deps{Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first := traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v6", 100))}}
	second := traffic.Table{Routes: []traffic.Route{route(fraudBackends, w("v6", 50), w("v7", 50))}}

	if err := n.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	want := []string{"nginx -p " + dir + " -t", "nginx -p " + dir + " -s reload"}
	if got := run.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first apply ran %q, want %q", got, want)
	}
	stat1, _ := os.Stat(file)
	if err := n.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got := run.lines(); len(got) != 2 {
		t.Fatalf("applying the same table again ran %q; want nothing", got[2:])
	}
	if stat2, _ := os.Stat(file); !stat2.ModTime().Equal(stat1.ModTime()) {
		t.Errorf("applying the same table again rewrote the file")
	}

	// nginx rejects the next config: the error carries its message and
	// the previous file is back.
	before, _ := os.ReadFile(file)
	run.fail = map[string]string{"-t": "nginx: [emerg] invalid parameter in switchyard.conf:12"}
	err = n.Apply(ctx, second)
	if err == nil || !strings.Contains(err.Error(), "[emerg] invalid parameter") || !strings.Contains(err.Error(), "previous config restored") {
		t.Fatalf("err = %v; want nginx's message and a restore", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("the file was not restored after nginx -t failed")
	}
	if got := run.lines(); got[len(got)-1] != "nginx -p "+dir+" -t" {
		t.Errorf("reloaded after a failed check: %q", got)
	}

	// A failed reload also restores the file, and the next apply retries.
	run.fail = map[string]string{"reload": "nginx: [error] invalid PID number"}
	if err := n.Apply(ctx, second); err == nil || !strings.Contains(err.Error(), "invalid PID") {
		t.Fatalf("err = %v; want the reload's message", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("the file was not restored after the reload failed")
	}
	run.fail = nil
	if err := n.Apply(ctx, second); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	wantData, _ := n.Render(second)
	if string(got) != string(wantData) {
		t.Errorf("file does not hold the second table")
	}
	// No temp files are left beside the owned file.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the owned file", len(entries))
	}
}

func TestNginxRefusesWhatItCannotDo(t *testing.T) {
	dir := t.TempDir()
	run := &fakeRunner{}
	n, err := NewNginx(&spec.Router{Name: "web", Type: "nginx", ConfigFile: filepath.Join(dir, "s.conf"), Listen: "127.0.0.1:8080"}, Deps{Runner: run})
	if err != nil {
		t.Fatal(err)
	}
	r := route(fraudBackends, w("v6", 50), w("v7", 50))
	r.Bandit = &traffic.Bandit{Arms: []string{"v6", "v7"}, ExploreFloor: 0.05}
	err = n.Apply(context.Background(), traffic.Table{Routes: []traffic.Route{r}})
	if err == nil || !strings.Contains(err.Error(), "lacks bandit") || !strings.Contains(err.Error(), `router "web" (type nginx)`) {
		t.Fatalf("err = %v; want a refusal naming the router and bandit", err)
	}
	if len(run.lines()) != 0 {
		t.Errorf("ran %q for a refused table", run.lines())
	}
	if _, err := os.Stat(filepath.Join(dir, "s.conf")); err == nil {
		t.Errorf("wrote the file for a refused table")
	}
}

// writeNginxMain writes a main nginx config under dir that includes the
// owned file, and returns its path.
func writeNginxMain(t testing.TB, dir, include string) string {
	t.Helper()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	conf := filepath.Join(dir, "nginx.conf")
	body := fmt.Sprintf(`%sworker_processes 1;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[3]s;
}
`, user, dir, include)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// startProcess starts a router in the foreground and stops it at cleanup.
func startProcess(t testing.TB, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := os.Create(filepath.Join(t.TempDir(), "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The whole process group: master and workers.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("%s output:\n%s", name, b)
		}
	})
	return cmd.Process.Pid
}

// workerPids lists the nginx workers in the process group of master.
func workerPids(master int) map[int]bool {
	out := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == master {
			continue
		}
		if pg, err := syscall.Getpgid(pid); err == nil && pg == master {
			out[pid] = true
		}
	}
	return out
}

// waitReloaded waits (bounded) until nginx has carried out a reload: a
// worker that was not there before runs, and every worker from before has
// exited (an old worker may still take a connection with the old config).
func waitReloaded(t testing.TB, master int, before map[int]bool) {
	t.Helper()
	for i := 0; i < 400; i++ {
		now := workerPids(master)
		fresh, old := false, false
		for pid := range now {
			if before[pid] {
				old = true
			} else {
				fresh = true
			}
		}
		if fresh && !old {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("nginx did not finish reloading within 10 s")
}

// waitListening waits (bounded) until addr accepts connections.
func waitListening(t testing.TB, network, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never accepted connections: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxyClient sends requests through a router on fresh connections (a
// reload drops idle keep-alive ones), retrying a failed one a few times.
type proxyClient struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newProxyClient(t *testing.T, addr string) *proxyClient {
	return &proxyClient{t: t, base: "http://" + addr, client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
}

// get returns the version that answered (from the body, checked against
// X-Switchyard-Version) and the path the backend saw.
func (c *proxyClient) get(path string, header http.Header) (version, backendPath string) {
	c.t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.client.Do(req)
		if err != nil {
			lastErr = err
			time.Sleep(20 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("status %s: %s", resp.Status, body)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		version, backendPath, _ = strings.Cut(string(body), " ")
		if h := resp.Header.Get("X-Switchyard-Version"); h != version {
			c.t.Errorf("X-Switchyard-Version = %q, but %q answered", h, version)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			c.t.Errorf("no X-Request-Id in the answer")
		}
		return version, backendPath
	}
	c.t.Fatalf("GET %s: %v", path, lastErr)
	return "", ""
}

// settle sends requests (bounded) until want (or any version, for "")
// answers n times in a row: nginx's reload is asynchronous, and the router
// then serves the new table. It returns the version.
func (c *proxyClient) settle(path string, header http.Header, want string, n int) string {
	c.t.Helper()
	row, last := 0, ""
	for i := 0; i < 500; i++ {
		v, _ := c.get(path, header)
		if v != last || (want != "" && v != want) {
			row, last = 0, v
		}
		if want == "" || v == want {
			row++
		}
		if row == n {
			return v
		}
	}
	c.t.Fatalf("%q never answered %d times in a row", want, n)
	return ""
}

// count sends n requests and counts answers per version.
func (c *proxyClient) count(path string, header http.Header, n int) map[string]int {
	c.t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		v, _ := c.get(path, header)
		got[v]++
	}
	return got
}

func TestNginxReal(t *testing.T) {
	bin := needBinary(t, "/usr/sbin/nginx")
	dir := t.TempDir()
	owned := filepath.Join(dir, "switchyard.conf")
	conf := writeNginxMain(t, dir, owned)
	listen := freeAddr(t)
	backends := map[string]string{"v6": versionBackend(t, "v6").URL, "v7": versionBackend(t, "v7").URL}
	n, err := New(&spec.Router{Name: "web", Type: "nginx", ConfigFile: owned, Listen: listen,
		Command: []string{bin, "-p", dir, "-c", conf}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	table := func(ws ...traffic.Weight) traffic.Table {
		return traffic.Table{Routes: []traffic.Route{route(backends, ws...)}}
	}
	ctx := context.Background()

	// nginx needs the owned file to start; the first Apply then reloads.
	initial, err := n.(*Nginx).Render(table(w("v6", 100), w("v7", 0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(owned, initial, 0o644); err != nil {
		t.Fatal(err)
	}
	master := startProcess(t, bin, "-p", dir, "-c", conf)
	waitListening(t, "tcp", listen)
	c := newProxyClient(t, listen)

	before := workerPids(master)
	if err := n.Apply(ctx, table(w("v6", 100), w("v7", 0))); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	c.settle("/v1/fraud/predict", nil, "v6", 5)
	if got := c.count("/v1/fraud/predict", nil, 50); got["v6"] != 50 {
		t.Errorf("100/0: answers %v, want all v6", got)
	}
	if _, p := c.get("/v1/fraud/predict?x=1", nil); p != "/predict" {
		t.Errorf("backend saw path %q, want the prefix stripped: /predict", p)
	}

	before = workerPids(master)
	if err := n.Apply(ctx, table(w("v6", 50), w("v7", 50))); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	c.settle("/v1/fraud/predict", nil, "v7", 1)
	got := c.count("/v1/fraud/predict", nil, 300)
	if got["v6"] < 90 || got["v7"] < 90 {
		t.Errorf("50/50: answers %v over 300 requests; want both near 150", got)
	}

	// Sticky by header: one user keeps one version.
	sticky := table(w("v6", 50), w("v7", 50))
	sticky.Routes[0].Sticky = "header:x-user-id"
	before = workerPids(master)
	if err := n.Apply(ctx, sticky); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	user := http.Header{"X-User-Id": {"user-42"}}
	mine := c.settle("/v1/fraud/predict", user, "", 20)
	if got := c.count("/v1/fraud/predict", user, 30); got[mine] != 30 {
		t.Errorf("sticky: user-42 got %v, want always %s", got, mine)
	}
	if got := c.count("/v1/fraud/predict", nil, 100); got["v6"] < 20 || got["v7"] < 20 {
		t.Errorf("sticky without the header: answers %v, want both versions", got)
	}

	before = workerPids(master)
	if err := n.Apply(ctx, table(w("v6", 0), w("v7", 100))); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	c.settle("/v1/fraud/predict", nil, "v7", 20)
	if got := c.count("/v1/fraud/predict", nil, 50); got["v7"] != 50 {
		t.Errorf("0/100: answers %v, want all v7", got)
	}
	if err := n.Apply(ctx, table(w("v6", 0), w("v7", 100))); err != nil {
		t.Fatalf("re-applying: %v", err)
	}

	// Shadow at 100%: every request is copied to the shadow, prefix
	// stripped; the client still gets the live answer.
	seen := make(chan string, 1000)
	shadowSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Switchyard-Shadow") == "true" {
			select {
			case seen <- r.URL.RequestURI():
			default:
			}
		}
		fmt.Fprint(rw, "v8 "+r.URL.Path)
	}))
	t.Cleanup(shadowSrv.Close)
	backends["v8"] = shadowSrv.URL
	shadow := table(w("v7", 100))
	shadow.Routes[0].Shadow = &traffic.Shadow{Version: "v8", Percent: 100, Compare: "json"}
	before = workerPids(master)
	if err := n.Apply(ctx, shadow); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	waitFor(t, seen, func() { c.get("/v1/fraud/score?id=7", nil) }, "/score?id=7")
	if got := c.count("/v1/fraud/score", nil, 20); got["v7"] != 20 {
		t.Errorf("with a shadow: answers %v, want all from the live v7", got)
	}

	// Shadow at 50%: about half the requests are copied.
	shadow.Routes[0].Shadow.Percent = 50
	before = workerPids(master)
	if err := n.Apply(ctx, shadow); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	c.settle("/v1/fraud/settle", nil, "v7", 20) // let the old workers go
	drain(seen)
	c.count("/v1/fraud/half", nil, 200)
	if copies := drain(seen); copies < 50 || copies > 150 {
		t.Errorf("shadow at 50%%: %d of 200 requests copied, want about 100", copies)
	}

	// Fallback: a failing version's requests are answered by the fallback.
	broken := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Error(rw, "model crashed", http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)
	backends["bad"] = broken.URL
	backends["rules"] = versionBackend(t, "rules").URL
	fallback := table(w("bad", 100))
	fallback.Routes[0].Fallback = "rules"
	before = workerPids(master)
	if err := n.Apply(ctx, fallback); err != nil {
		t.Fatal(err)
	}
	waitReloaded(t, master, before)
	c.settle("/v1/fraud/predict", nil, "rules", 10)
}

// drain counts what arrives on seen until it is quiet for 300 ms (bounded).
func drain(seen <-chan string) int {
	n := 0
	for i := 0; i < 10000; i++ {
		select {
		case <-seen:
			n++
		case <-time.After(300 * time.Millisecond):
			return n
		}
	}
	return n
}

// waitFor calls send (bounded) until want arrives on seen.
func waitFor(t *testing.T, seen <-chan string, send func(), want string) {
	t.Helper()
	var got []string
	for i := 0; i < 200; i++ {
		send()
		select {
		case s := <-seen:
			if s == want {
				return
			}
			got = append(got, s)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the shadow never saw %q (saw %q)", want, got)
}
