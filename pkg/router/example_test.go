package router_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/router"
	"github.com/switchyard-dev/switchyard/pkg/traffic"
)

// A canary at 10% of a model's traffic, with sticky users, and what the
// router measured.
func Example() {
	model := func(version string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"version":%q,"path":%q}`, version, r.URL.Path)
		}))
	}
	v6, v7 := model("v6"), model("v7")
	defer v6.Close()
	defer v7.Close()

	rt := router.New(router.Options{Seed: 1})
	defer rt.Close()
	err := rt.Update(traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v6": v6.URL, "v7": v7.URL},
		Weights:  []traffic.Weight{{Version: "v6", Percent: 90}, {Version: "v7", Percent: 10}},
		Sticky:   "header:x-user-id",
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(rt)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/v1/fraud/predict", nil)
	req.Header.Set("X-User-Id", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Header.Get("X-Switchyard-Version"), string(body))

	total := int64(0)
	for _, v := range rt.Stats(10 * time.Second).Versions {
		total += v.Requests
	}
	fmt.Println("requests measured:", total)

	bad := rt.Update(traffic.Table{Routes: []traffic.Route{{
		Model: "fraud", Stage: "production", Path: "/v1/fraud",
		Backends: map[string]string{"v6": v6.URL},
		Weights:  []traffic.Weight{{Version: "v6", Percent: 90}, {Version: "v8", Percent: 10}},
	}}})
	fmt.Println(bad != nil)
	// Output:
	// v6 {"version":"v6","path":"/predict"}
	// requests measured: 1
	// true
}
