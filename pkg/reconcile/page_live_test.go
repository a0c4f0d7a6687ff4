package reconcile

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/browsertest"
)

// probePage serves the status page as pageHandler does, with one more
// script of the test's, probe, run after the page's own: it acts on the
// page as a person would and writes what it saw into
// <pre id="probe">, which --dump-dom shows.
func probePage(t *testing.T, probe string, status http.HandlerFunc) *httptest.Server {
	t.Helper()
	index, err := fs.ReadFile(pageFiles, "page/index.html")
	if err != nil {
		t.Fatal(err)
	}
	const own = `<script src="/ui/app.js" defer></script>`
	if !strings.Contains(string(index), own) {
		t.Fatalf("index.html no longer loads %s", own)
	}
	withProbe := strings.Replace(string(index), own, own+"\n"+`<script src="/probe.js" defer></script>`, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page's own policy, but that /frame.html may frame it.
		w.Header().Set("Content-Security-Policy", strings.Replace(pageCSP, "frame-ancestors 'none'", "frame-ancestors 'self'", 1))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(withProbe))
	})
	mux.Handle("GET /ui/", pageHandler())
	mux.HandleFunc("GET /probe.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(probe))
	})
	// frame.html shows the page in a frame of a phone's width (headless
	// Chromium's window is never narrower than 500 px); the probe in the
	// frame posts its report to it.
	mux.HandleFunc("GET /frame.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><body style="margin:0"><iframe src="/" style="width:360px;height:800px;border:0"></iframe><script src="/frame.js"></script></body>`))
	})
	mux.HandleFunc("GET /frame.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(reportJS + `window.addEventListener('message', (e) => report(JSON.parse(e.data)));`))
	})
	mux.HandleFunc("GET /api/status", status)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var probeOut = regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`)

// probed runs Chromium on srv's page (or another path) for virtual
// milliseconds and decodes the probe's report.
func probed(t *testing.T, url, virtualMS string, into any) string {
	t.Helper()
	bin := browsertest.Chromium(t)
	dom := browsertest.Run(t, bin, url, "--dump-dom", "--virtual-time-budget="+virtualMS)
	m := probeOut.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe reported nothing; DOM:\n%s", dom)
	}
	raw := strings.NewReplacer("&quot;", `"`, "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(m[1])
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		t.Fatalf("probe report %q: %v", raw, err)
	}
	return dom
}

const reportJS = `
function report(v) {
  if (window.parent !== window) {
    window.parent.postMessage(JSON.stringify(v), '*');
    return;
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(v);
  document.body.append(pre);
}
`

// TestPageAsksForTheTokenOnceAndUpdatesItself: behind a status token the
// page asks for it; given once, it polls with it from then on without
// asking again, and redraws as the status changes.
func TestPageAsksForTheTokenOnceAndUpdatesItself(t *testing.T) {
	const token = "s3cret-t0ken"
	var mu sync.Mutex
	authorized, refused := 0, 0
	srv := probePage(t, reportJS+`
const seen = {};
setTimeout(() => {
  seen.askedFirst = !document.getElementById('login').hidden;
  seen.modelsFirst = document.querySelectorAll('[data-model]').length;
  document.getElementById('token').value = '`+token+`';
  document.getElementById('login').requestSubmit();
}, 1000);
setTimeout(() => {
  seen.phaseThen = (document.querySelector('.badge.phase') || {}).textContent;
}, 2000);
setTimeout(() => {
  seen.askedLast = !document.getElementById('login').hidden;
  seen.phaseLast = (document.querySelector('.badge.phase') || {}).textContent;
  seen.inputCleared = document.getElementById('token').value === '';
  report(seen);
}, 12000);
`, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			refused++
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authorized++
		st := pageStatus()
		st.Models = st.Models[:1]
		if authorized > 1 {
			st.Models[0].Phase, st.Models[0].From, st.Models[0].To = "succeeded", "", ""
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	var seen struct {
		AskedFirst, AskedLast, InputCleared bool
		ModelsFirst                         int
		PhaseThen, PhaseLast                string
	}
	probed(t, srv.URL+"/", "14000", &seen)
	mu.Lock()
	defer mu.Unlock()
	if !seen.AskedFirst || seen.ModelsFirst != 0 {
		t.Errorf("without the token the page should ask for it and show no model: %+v", seen)
	}
	if refused != 1 {
		t.Errorf("%d requests without the token, want the first one only: the page asks once", refused)
	}
	if authorized < 3 {
		t.Errorf("%d polls with the token in 11 s, want one every 3 s", authorized)
	}
	if seen.AskedLast || !seen.InputCleared {
		t.Errorf("after the token was given the page asked again, or kept it in the field: %+v", seen)
	}
	if seen.PhaseThen != "progressing" || seen.PhaseLast != "succeeded" {
		t.Errorf("the page drew %q, then %q: it should redraw the new status (progressing, then succeeded)", seen.PhaseThen, seen.PhaseLast)
	}
}

// TestPageFitsANarrowScreen loads the page with every section at the width
// of a phone and checks that nothing sticks out sideways: no horizontal
// scrolling, and no element past the right edge but inside a table that
// scrolls by itself.
func TestPageFitsANarrowScreen(t *testing.T) {
	srv := probePage(t, reportJS+`
setTimeout(() => {
  const width = document.documentElement.clientWidth;
  const over = [];
  for (const e of document.body.querySelectorAll('*')) {
    if (e.closest('.table-wrap')) continue;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1) over.push((e.className.baseVal ?? e.className) + ' ' + e.tagName + ' ' + Math.round(r.right));
  }
  report({width, scrollWidth: document.documentElement.scrollWidth, models: document.querySelectorAll('[data-model]').length, over: over.slice(0, 10)});
}, 1500);
`, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pageStatus())
	})
	var seen struct {
		Width, ScrollWidth, Models int
		Over                       []string
	}
	probed(t, srv.URL+"/frame.html", "3000", &seen)
	if seen.Models != 3 || seen.Width < 300 || seen.Width > 400 {
		t.Fatalf("the probe saw %d models at width %d: the page did not load at phone width", seen.Models, seen.Width)
	}
	if seen.ScrollWidth > seen.Width || len(seen.Over) > 0 {
		t.Errorf("at %d px the page is %d px wide; past the edge: %v", seen.Width, seen.ScrollWidth, seen.Over)
	}
}

// TestPageLoadsNothingFromElsewhere: the page's files name no address
// outside the reconciler (no CDN, no web font), and it is served with a
// policy that lets the browser load and fetch from its own origin only.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	rec := httptest.NewRecorder()
	pageHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<title>Switchyard</title>") {
		t.Fatalf("GET / = %d:\n%s", rec.Code, rec.Body.String())
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		for _, src := range f[1:] {
			if src != "'self'" && src != "'none'" && src != "data:" {
				t.Errorf("Content-Security-Policy %q allows %s", f[0], src)
			}
		}
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q does not start from default-src 'none'", csp)
	}
	outside := regexp.MustCompile(`(?i)(?:\b(?:src|href|action)\s*=\s*["']?|url\(\s*["']?|@import\s+["']?|fetch\(\s*["'` + "`" + `])(?:[a-z]+:)?//`)
	n := 0
	err := fs.WalkDir(pageFiles, "page", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(pageFiles, p)
		if err != nil {
			return err
		}
		n++
		if m := outside.Find(b); m != nil {
			t.Errorf("%s loads from another origin: %s", p, m)
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("read %d embedded files: %v", n, err)
	}
}
