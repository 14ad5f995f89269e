package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// BenchmarkFunctionRoute measures a function route one request at a time,
// with a stand-in worker on the mesh that answers at once what a warm
// aws-lambda-go function answers through a worker: the gateway's own share
// of a function route's latency (HTTP in, event, the act over NATS, the
// reply mapped, HTTP out), without the worker's and the runtime's. The
// floor sub-benchmark is a net/http handler returning the same body over
// the same client; the difference is the gateway's and the mesh's cost.
func BenchmarkFunctionRoute(b *testing.B) {
	ns := natstest.Server(b)
	reply := json.RawMessage(`{"version":1,"requestId":"8c1b3c1e-6d5a-4f7e-9b0a-2b1c3d4e5f60","payload":{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":null,"body":"{\"message\":\"Hello, Ada\"}"}}`)
	worker := stoa.New()
	defer worker.Close(context.Background())
	worker.Add("fn:*", func(context.Context, stoa.Msg) (any, error) { return reply, nil })
	join := func(e *stoa.Engine, pins ...string) *mesh.Node {
		n, err := mesh.Join(b.Context(), e, mesh.WithURLs(ns.ClientURL()), mesh.WithDiscoveryWait(20*time.Millisecond), mesh.WithPins(pins...))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close(context.Background()) })
		return n
	}
	join(worker, "fn:*")
	e := stoa.New(stoa.WithTimeout(time.Minute))
	defer e.Close(context.Background())
	if err := join(e).WaitFor(b.Context(), "fn:*", 1); err != nil {
		b.Fatal(err)
	}
	gw := &gateway.Server{Engine: e, Routes: []gateway.Route{{Method: "GET", Path: "/fn/hello/{name}", Function: "hello"}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message":"Hello, `+r.PathValue("name")+`"}`)
	})
	serve := func(h interface{ Serve(net.Listener) error }) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go h.Serve(ln)
		return "http://" + ln.Addr().String()
	}
	floor := &http.Server{Handler: mux}
	defer floor.Close()
	defer gw.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	for _, side := range []struct{ name, url string }{
		{"floor", serve(floor) + "/hello/Ada"},
		{"gateway", serve(gw) + "/fn/hello/Ada"},
	} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(side.url)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != `{"message":"Hello, Ada"}` {
					b.Fatalf("GET %s: %d %s", side.url, resp.StatusCode, body)
				}
			}
		})
	}
}
