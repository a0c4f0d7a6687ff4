// Command backend is a tiny model server for router benchmarks: it answers
// every request with the same small JSON body, like a model's prediction.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19101", "listen `ADDR`")
	body := flag.String("body", `{"score":0.5,"label":"legit"}`, "response `BODY`")
	flag.Parse()
	b := []byte(*body)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
