package h1

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCookieMatchesNetHTTP: the cookie Request.Cookie finds (the router's
// sticky key) is the one net/http's Request.Cookie finds.
func TestCookieMatchesNetHTTP(t *testing.T) {
	lines := [][]string{
		{"uid=1"}, {`uid="1"`}, {`uid=""`}, {`uid="`}, {`uid="1`}, {`uid=1"`},
		{"uid =1"}, {" uid=1 "}, {"uid= 1"}, {"uid=1 2"}, {"uid\t=1"},
		{"a=1;uid=2"}, {"a=1; uid=2;"}, {"a=1 ; uid=2 ; uid=3"}, {`uid=b\ad; uid=ok`}, {`uid=b"ad; uid=ok`},
		{"UID=1"}, {"uid"}, {"uid; uid=2"}, {"uid=; uid=2"}, {"=uid; uid=2"}, {"a b=1; uid=2"},
		{"uid=1\xc2\xa0"}, {"uid=\xc2\xa01"}, {"uid=caf\xe9; uid=2"}, {"uid=1,2"},
		{"a=1", "uid=2"}, {"uid=1", "uid=2"}, {"", "uid=2"},
		{strings.Repeat("a=1;", 3000) + "uid=1"},
		{strings.Repeat("a=1;", 2999) + "uid=1"},
		{strings.Repeat("a=1;", 1500), strings.Repeat("a=1;", 1500) + "uid=1"},
	}
	for _, vs := range lines {
		var fs []Field
		h := http.Header{}
		for _, v := range vs {
			fs = append(fs, Field{Name: []byte("cookie"), Value: TrimOWS([]byte(v))})
			h.Add("Cookie", v)
		}
		hr := &Request{Fields: fs}
		sr := &http.Request{Header: h}
		var want string
		if c, err := sr.Cookie("uid"); err == nil {
			want = c.Value
		}
		if l, s := hr.Cookie("uid"), want; l != s {
			name := fmt.Sprintf("%q", vs)
			if len(name) > 80 {
				name = name[:40] + "..." + name[len(name)-40:]
			}
			t.Errorf("Cookie %s: hand-written %q, net/http %q", name, l, s)
		}
	}
}
