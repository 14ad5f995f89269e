package gateway

import (
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkEvent measures building a payload 1.0 and 2.0 event, and
// mapping a proxy response back: the gateway's own work on a function
// route, besides the network.
func BenchmarkEvent(b *testing.B) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/fn/hello/Ada?x=1", nil)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	for _, format := range []string{FormatREST, FormatHTTP} {
		e, err := compile(Route{Method: "GET", Path: "/fn/hello/{name}", Function: "hello", Format: format})
		if err != nil {
			b.Fatal(err)
		}
		segs, _ := splitPath(r.URL.EscapedPath())
		b.Run("build/"+format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q := &request{r: r, id: "abc-1", start: time.Now(), segs: segs, params: e.params(segs), stage: "latest"}
				if _, err := e.event(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	reply := []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":null,"body":"{\"message\":\"Hello, Ada\"}"}`)
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := mapReply(reply, FormatREST); err != nil {
				b.Fatal(err)
			}
		}
	})
}
