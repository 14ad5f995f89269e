package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// natsServer starts an in-process NATS server with JetStream.
func natsServer(t *testing.T) *server.Server {
	t.Helper()
	dir := t.TempDir()
	return natstest.Server(t, func(o *server.Options) {
		o.JetStream = true
		o.StoreDir = dir
	})
}

func newEngine(t *testing.T) *stoa.Engine {
	e := stoa.New(stoa.WithTimeout(time.Minute))
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// join joins e to the mesh with pins and leaves at cleanup.
func join(t *testing.T, s *server.Server, e *stoa.Engine, pins ...string) *mesh.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := mesh.Join(ctx, e, mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(20*time.Millisecond), mesh.WithPins(pins...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n
}

// provider joins a new engine serving handlers under their patterns.
func provider(t *testing.T, s *server.Server, handlers map[string]stoa.Handler) *stoa.Engine {
	t.Helper()
	e := newEngine(t)
	var pins []string
	for p, h := range handlers {
		if err := e.Add(p, h); err != nil {
			t.Fatal(err)
		}
		pins = append(pins, p)
	}
	slices.Sort(pins)
	join(t, s, e, pins...)
	return e
}

// logBuffer is a log sink safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gw is a gateway under test, served on a loopback port.
type gw struct {
	*gateway.Server
	url  string
	log  *logBuffer
	done chan error
}

// startGateway joins a caller engine to the mesh (waiting for the pins
// given) and serves s, filled in with the engine and a logger, on a free
// port. It shuts the gateway down at cleanup.
func startGateway(t *testing.T, ns *server.Server, s *gateway.Server, waitPins ...string) *gw {
	t.Helper()
	if s.Engine == nil {
		s.Engine = newEngine(t)
		n := join(t, ns, s.Engine)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for _, p := range waitPins {
			if err := n.WaitFor(ctx, p, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	g := &gw{Server: s, log: &logBuffer{}, done: make(chan error, 1)}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewJSONHandler(g.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.url = "http://" + ln.Addr().String()
	go func() { g.done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-g.done; !errors.Is(err, gateway.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return g
}

// openStore opens the route store on s's JetStream.
func openStore(t *testing.T, s *server.Server) *gateway.Store {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gateway.OpenStore(t.Context(), js, jetstream.KeyValueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("reply %d %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// do sends a request with an optional body and headers ("Name: value").
func do(t *testing.T, method, u string, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// checkError checks an error reply: the status, the JSON body's code, and
// that its request id is the X-Request-Id header's and appears in the log.
func checkError(t *testing.T, g *gw, what string, r reply, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: got status %d (%s), want %d", what, r.status, r.body, status)
		return nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: got Content-Type %q, want application/json", what, ct)
	}
	m := r.json(t)
	if m["code"] != code {
		t.Errorf("%s: got code %v, want %s (body %s)", what, m["code"], code, r.body)
	}
	id, _ := m["requestId"].(string)
	if id == "" || id != r.header.Get("X-Request-Id") {
		t.Errorf("%s: requestId %q, X-Request-Id %q: want the same, not empty", what, id, r.header.Get("X-Request-Id"))
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("%s: no message in %s", what, r.body)
	}
	if id != "" && !strings.Contains(g.log.String(), `"request_id":"`+id+`"`) {
		t.Errorf("%s: request id %s is not in the log:\n%s", what, id, g.log.String())
	}
	return m
}

// waitRoutes waits until the gateway's table satisfies ok.
func waitRoutes(t *testing.T, g *gateway.Server, ok func([]gateway.Route) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		ch := g.Changed()
		if ok(g.RoutesInEffect()) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("routes never became as wanted: %v", g.RoutesInEffect())
		}
	}
}

func hasRoute(key string) func([]gateway.Route) bool {
	return func(rs []gateway.Route) bool {
		return slices.ContainsFunc(rs, func(r gateway.Route) bool { return r.Key() == key })
	}
}

func noRoute(key string) func([]gateway.Route) bool {
	return func(rs []gateway.Route) bool { return !hasRoute(key)(rs) }
}

// keyPath is the management API path of a route.
func keyPath(key string) string { return gateway.APIPrefix + "/routes/" + url.PathEscape(key) }
