package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
	"github.com/stoaproject/stoa/stoatest"
)

// join joins e to the server at url and closes the node at cleanup.
func join(t *testing.T, s *server.Server, e *stoa.Engine, opts ...mesh.Option) *mesh.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := mesh.Join(ctx, e, append([]mesh.Option{mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(20 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

func newEngine(t *testing.T) *stoa.Engine {
	e := stoa.New(stoa.WithTimeout(5 * time.Second))
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// TestConformance runs the act engine's conformance suite across the mesh:
// the server engine's patterns are served by one node, and the suite acts
// through another node's engine.
func TestConformance(t *testing.T) {
	s := natstest.Server(t)
	stoatest.Run(t, func(t *testing.T, server *stoa.Engine) *stoa.Engine {
		join(t, s, server, mesh.WithPins(server.Patterns()...))
		caller := newEngine(t)
		n := join(t, s, caller)
		for _, p := range server.Patterns() {
			if got := n.Providers(p); got != 1 {
				t.Fatalf("caller knows %d providers of %s after Join, want 1", got, p)
			}
		}
		return caller
	})
}

// provider is an engine serving pin with a handler that counts its acts
// and answers {"by": name}.
type provider struct {
	name  string
	e     *stoa.Engine
	node  *mesh.Node
	count atomic.Int64
}

func newProvider(t *testing.T, s *server.Server, name, pattern string, opts ...mesh.Option) *provider {
	t.Helper()
	p := &provider{name: name, e: newEngine(t)}
	err := p.e.Add(pattern, func(ctx context.Context, m stoa.Msg) (any, error) {
		p.count.Add(1)
		return map[string]any{"by": name}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) == 0 {
		opts = []mesh.Option{mesh.WithPins(pattern)}
	}
	p.node = join(t, s, p.e, append(opts, mesh.WithName(name))...)
	return p
}

func waitFor(t *testing.T, n *mesh.Node, pattern string, min int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n.WaitFor(ctx, pattern, min); err != nil {
		t.Fatal(err)
	}
}

func by(t *testing.T, out json.RawMessage) string {
	t.Helper()
	var r struct{ By string }
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("reply %s: %v", out, err)
	}
	return r.By
}

// TestDiscovery: a node learns the pins of nodes that joined before it
// (during Join) and after it (from their announcements), and forgets the
// pins of a node that leaves.
func TestDiscovery(t *testing.T) {
	s := natstest.Server(t)
	before := newProvider(t, s, "before", "role:calc,cmd:add")
	caller := newEngine(t)
	cn := join(t, s, caller)
	if got := cn.Providers("role:calc,cmd:add"); got != 1 {
		t.Fatalf("providers of a pin served before Join = %d, want 1", got)
	}
	after := newProvider(t, s, "after", "role:calc,cmd:sub")
	waitFor(t, cn, "role:calc,cmd:sub", 1)
	waitFor(t, before.node, "role:calc,cmd:sub", 1) // the earlier provider learns it too
	for _, c := range []struct{ msg, by string }{
		{"role:calc,cmd:add", "before"},
		{"role:calc,cmd:sub", "after"},
	} {
		out, err := caller.Act(t.Context(), c.msg)
		if err != nil {
			t.Fatalf("act %s: %v", c.msg, err)
		}
		if got := by(t, out); got != c.by {
			t.Errorf("act %s answered by %q, want %q", c.msg, got, c.by)
		}
	}
	peers := cn.Peers()
	if len(peers) != 2 || peers[0].Name != "after" || peers[1].Name != "before" {
		t.Errorf("peers = %+v, want after and before", peers)
	}

	if err := after.node.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor0(t, cn, "role:calc,cmd:sub")
	start := time.Now()
	_, err := caller.Act(t.Context(), "role:calc,cmd:sub")
	if !errors.Is(err, stoa.ErrNotFound) {
		t.Fatalf("act on a pin whose node left: %v, want act_not_found", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("act_not_found took %v", d)
	}
	if slices.Contains(caller.Patterns(), "cmd:sub,role:calc") {
		t.Errorf("the caller's engine still has the pin of the node that left: %v", caller.Patterns())
	}
}

// waitFor0 waits until n knows no provider of pattern.
func waitFor0(t *testing.T, n *mesh.Node, pattern string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		ch := n.Changed()
		if n.Providers(pattern) == 0 {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("still %d providers of %s", n.Providers(pattern), pattern)
		}
	}
}

// TestMostSpecific: the engine's most-specific rule holds across local
// patterns and remote pins.
func TestMostSpecific(t *testing.T) {
	s := natstest.Server(t)
	newProvider(t, s, "remote-specific", "role:calc,cmd:add,mode:exact")
	newProvider(t, s, "remote-general", "role:shop")
	caller := newEngine(t)
	local := func(name string) stoa.Handler {
		return func(context.Context, stoa.Msg) (any, error) { return map[string]any{"by": name}, nil }
	}
	caller.Add("role:calc,cmd:add", local("local-general"))
	caller.Add("role:shop,cmd:buy", local("local-specific"))
	join(t, s, caller)
	for _, c := range []struct{ msg, by string }{
		{"role:calc,cmd:add,mode:exact", "remote-specific"},
		{"role:calc,cmd:add,mode:rough", "local-general"},
		{"role:shop,cmd:buy", "local-specific"},
		{"role:shop,cmd:sell", "remote-general"},
	} {
		out, err := caller.Act(t.Context(), c.msg)
		if err != nil {
			t.Fatalf("act %s: %v", c.msg, err)
		}
		if got := by(t, out); got != c.by {
			t.Errorf("act %s answered by %q, want %q", c.msg, got, c.by)
		}
	}
}

// TestLocalStaysLocal: a pattern the engine has itself is not replaced by
// a remote pin of the same pattern.
func TestLocalStaysLocal(t *testing.T) {
	s := natstest.Server(t)
	newProvider(t, s, "remote", "role:calc,cmd:add")
	caller := newEngine(t)
	caller.Add("role:calc,cmd:add", func(context.Context, stoa.Msg) (any, error) { return map[string]any{"by": "local"}, nil })
	join(t, s, caller)
	out, err := caller.Act(t.Context(), "role:calc,cmd:add")
	if err != nil {
		t.Fatal(err)
	}
	if got := by(t, out); got != "local" {
		t.Errorf("answered by %q, want local", got)
	}
}

// TestUserPatternOutlivesPin: a user who adds, after the node forwarded
// a remote pin, a handler for exactly that pattern keeps it when the pin's
// last provider leaves: the node removes only the forwarder it added.
func TestUserPatternOutlivesPin(t *testing.T) {
	s := natstest.Server(t)
	p := newProvider(t, s, "remote", "role:calc,cmd:add")
	caller := newEngine(t)
	cn := join(t, s, caller)
	out, err := caller.Act(t.Context(), "role:calc,cmd:add")
	if err != nil {
		t.Fatal(err)
	}
	if got := by(t, out); got != "remote" {
		t.Fatalf("before the local add: answered by %q, want remote", got)
	}
	if err := caller.Add("role:calc,cmd:add", func(context.Context, stoa.Msg) (any, error) { return map[string]any{"by": "local"}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := p.node.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor0(t, cn, "role:calc,cmd:add")
	out, err = caller.Act(t.Context(), "role:calc,cmd:add")
	if err != nil {
		t.Fatalf("act after the remote pin's provider left: %v, want the user's handler to answer", err)
	}
	if got := by(t, out); got != "local" {
		t.Errorf("answered by %q, want local", got)
	}
}

// TestBalance: three providers of a pin share 3,000 acts; each takes
// between 20% and 47%.
func TestBalance(t *testing.T) {
	s := natstest.Server(t)
	ps := []*provider{
		newProvider(t, s, "p1", "role:calc,cmd:add"),
		newProvider(t, s, "p2", "role:calc,cmd:add"),
		newProvider(t, s, "p3", "role:calc,cmd:add"),
	}
	caller := newEngine(t)
	cn := join(t, s, caller)
	waitFor(t, cn, "role:calc,cmd:add", 3)
	const acts = 3000
	var wg sync.WaitGroup
	errs := make(chan error, acts)
	sem := make(chan struct{}, 8)
	for range acts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := caller.Act(t.Context(), stoa.Msg{"role": "calc", "cmd": "add"}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range ps {
		share := float64(p.count.Load()) / acts
		t.Logf("%s served %d acts (%.1f%%)", p.name, p.count.Load(), share*100)
		if share < 0.20 || share > 0.47 {
			t.Errorf("%s served %.1f%% of the acts, want 20%%–47%%", p.name, share*100)
		}
	}
}

// TestWithConn: a node on a connection it did not make serves and acts as
// any other, and leaves the connection open when it closes.
func TestWithConn(t *testing.T) {
	s := natstest.Server(t)
	opts, err := mesh.Options("shared", mesh.Auth{})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	newProvider(t, s, "p", "role:calc,cmd:add")
	caller := newEngine(t)
	ctx := t.Context()
	n, err := mesh.Join(ctx, caller, mesh.WithConn(nc), mesh.WithDiscoveryWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := caller.Act(ctx, "role:calc,cmd:add"); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !nc.IsConnected() {
		t.Error("Close closed a connection the node did not make")
	}
}
