package gateway_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestLargeBodies: bodies between 1 and 6 MB reach a function over a mesh
// whose NATS carries them (a Base's 8 MB cap) and come back whole; a body
// over the gateway's 6 MB cap is refused with 413 before anything is sent;
// on a NATS with its default 1 MB cap, the client refuses to send the
// event and the gateway answers 413, not a failure of the function; an
// event a worker finds over Lambda's cap is a 413 too.
func TestLargeBodies(t *testing.T) {
	routes := []gateway.Route{
		{Method: "POST", Path: "/mirror", Function: "mirror"},
		{Method: "POST", Path: "/toolarge", Function: "toolarge"},
	}
	body := func(n int) string { return strings.Repeat("0123456789abcdef", n/16) }

	big := natstest.Server(t, func(o *server.Options) { o.MaxPayload = mesh.DefaultMaxPayload })
	fakeWorker(t, big)
	g := startGateway(t, big, &gateway.Server{Routes: routes}, "fn:*")
	for _, n := range []int{1 << 20, 3 << 20, 5 << 20} {
		b := body(n)
		r := do(t, "POST", g.url+"/mirror", b, "Content-Type: text/plain")
		if r.status != 201 || r.body != b {
			t.Errorf("a body of %d bytes: got %d and %d bytes back, want 201 and the same body", len(b), r.status, len(r.body))
		}
	}
	r := do(t, "POST", g.url+"/mirror", body(6<<20+16), "Content-Type: text/plain")
	checkError(t, g, "a body over 6 MB", r, 413, gateway.CodeTooLarge)
	r = do(t, "POST", g.url+"/toolarge", "{}", "Content-Type: application/json")
	checkError(t, g, "an event over Lambda's cap (fn_request_too_large)", r, 413, gateway.CodeTooLarge)

	small := natstest.Server(t) // NATS's default: 1 MB
	fakeWorker(t, small)
	g = startGateway(t, small, &gateway.Server{Routes: routes}, "fn:*")
	if r := do(t, "POST", g.url+"/mirror", body(1<<10), "Content-Type: text/plain"); r.status != 201 {
		t.Fatalf("a small body on a 1 MB mesh: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", g.url+"/mirror", body(2<<20), "Content-Type: text/plain")
	checkError(t, g, "a 2 MB body on a mesh capped at 1 MB", r, 413, gateway.CodeTooLarge)
	if !strings.Contains(g.log.String(), "maximum payload exceeded") {
		t.Errorf("the log does not say the mesh's cap refused the event:\n%s", g.log.String())
	}
}
