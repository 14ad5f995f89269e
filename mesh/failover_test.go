package mesh_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestNoProviderLeft: when the last provider dies (its connection drops
// without a goodbye), the next act fails with act_not_found at once (NATS's
// no-responders), not at its timeout, and the caller then drops the pin. On
// an idempotent pin "no responders" is retried for about 600 ms first.
func TestNoProviderLeft(t *testing.T) {
	for _, c := range []struct {
		name   string
		opt    func(...string) mesh.Option
		within time.Duration
	}{
		{"plain", mesh.WithPins, 250 * time.Millisecond},
		{"idempotent", mesh.WithIdempotentPins, 1500 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := natstest.Server(t)
			p := newProvider(t, s, "only", "role:calc,cmd:add", c.opt("role:calc,cmd:add"))
			caller := newEngine(t)
			cn := join(t, s, caller)
			if _, err := caller.Act(t.Context(), "role:calc,cmd:add"); err != nil {
				t.Fatal(err)
			}
			kill(t, s, p.node) // as a killed process: no goodbye
			start := time.Now()
			_, err := caller.Act(t.Context(), "role:calc,cmd:add,timeout$:5000")
			if !errors.Is(err, stoa.ErrNotFound) {
				t.Fatalf("act after the last provider died: %v, want act_not_found", err)
			}
			if d := time.Since(start); d > c.within {
				t.Errorf("act_not_found after %v, want within %v", d, c.within)
			}
			waitFor0(t, cn, "role:calc,cmd:add")
			if _, ok := caller.Find("role:calc,cmd:add"); ok {
				t.Error("the caller's engine still has the dead provider's pin")
			}
		})
	}
}

// TestInFlightFails: an act in flight on a provider that dies fails with a
// clear error by its deadline; acts after that go to the survivor.
func TestInFlightFails(t *testing.T) {
	s := natstest.Server(t)
	pin := "role:calc,cmd:add"
	took := make(chan struct{})
	victim := newEngine(t)
	victim.Add(pin, func(ctx context.Context, m stoa.Msg) (any, error) {
		close(took)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	vn := join(t, s, victim, mesh.WithPins(pin), mesh.WithName("victim"))
	caller := newEngine(t)
	cn := join(t, s, caller)
	waitFor(t, cn, pin, 1)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := caller.Act(t.Context(), "role:calc,cmd:add,timeout$:500")
		done <- err
	}()
	<-took
	survivor := newProvider(t, s, "survivor", pin)
	waitFor(t, cn, pin, 2)
	kill(t, s, vn) // killed with the act in flight
	err := <-done
	if !errors.Is(err, stoa.ErrTimeout) {
		t.Fatalf("in-flight act on a dead provider: %v, want action_timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("failed after %v, want by its 500 ms deadline", d)
	}
	t.Logf("in-flight act failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	for i := range 20 {
		out, err := caller.Act(t.Context(), pin)
		if err != nil {
			t.Fatalf("act %d after the provider died: %v", i, err)
		}
		if got := by(t, out); got != "survivor" {
			t.Fatalf("act %d answered by %s", i, got)
		}
	}
	_ = survivor
}

// TestInFlightRetried: the same death on an idempotent pin is invisible to
// the caller: the act is sent again and the survivor answers.
func TestInFlightRetried(t *testing.T) {
	s := natstest.Server(t)
	pin := "role:calc,cmd:add"
	took := make(chan struct{})
	var once sync.Once
	victim := newEngine(t)
	release := make(chan struct{})
	victim.Add(pin, func(ctx context.Context, m stoa.Msg) (any, error) {
		once.Do(func() { close(took) })
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, errors.New("released")
	})
	vn := join(t, s, victim, mesh.WithIdempotentPins(pin), mesh.WithName("victim"))
	t.Cleanup(func() { close(release) }) // before Close waits for the act
	caller := newEngine(t)
	cn := join(t, s, caller, mesh.WithRetryAfter(100*time.Millisecond))
	waitFor(t, cn, pin, 1)
	done := make(chan error, 1)
	var out []byte
	start := time.Now()
	go func() {
		var err error
		out, err = caller.Act(t.Context(), "role:calc,cmd:add,timeout$:5000")
		done <- err
	}()
	<-took
	newProvider(t, s, "survivor", pin, mesh.WithIdempotentPins(pin))
	waitFor(t, cn, pin, 2)
	kill(t, s, vn)
	if err := <-done; err != nil {
		t.Fatalf("idempotent act in flight on a dead provider: %v, want the survivor's reply", err)
	}
	if got := by(t, out); got != "survivor" {
		t.Errorf("answered by %s, want survivor", got)
	}
	t.Logf("retried act answered after %v", time.Since(start).Round(time.Millisecond))
}

// TestDrainUnderLoad: a provider that leaves with Close while acts stream
// in finishes those it took and takes no more; the caller sees no error.
func TestDrainUnderLoad(t *testing.T) {
	s := natstest.Server(t)
	pin := "role:calc,cmd:add"
	slow := func(name string, count *atomic.Int64) stoa.Handler {
		return func(ctx context.Context, m stoa.Msg) (any, error) {
			count.Add(1)
			time.Sleep(2 * time.Millisecond) // work in flight when the node leaves
			return map[string]any{"by": name}, nil
		}
	}
	var leaving, staying atomic.Int64
	le, se := newEngine(t), newEngine(t)
	le.Add(pin, slow("leaving", &leaving))
	se.Add(pin, slow("staying", &staying))
	ln := join(t, s, le, mesh.WithPins(pin), mesh.WithName("leaving"))
	join(t, s, se, mesh.WithPins(pin), mesh.WithName("staying"))
	caller := newEngine(t)
	cn := join(t, s, caller)
	waitFor(t, cn, pin, 2)

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var acts, failed atomic.Int64
	var firstErr atomic.Value
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				acts.Add(1)
				if _, err := caller.Act(t.Context(), pin); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for leaving.Load() < 200 { // under load
		time.Sleep(time.Millisecond)
	}
	if err := ln.Close(t.Context()); err != nil {
		t.Fatalf("close: %v", err)
	}
	after := leaving.Load()
	before := staying.Load()
	for staying.Load() < before+500 {
		time.Sleep(time.Millisecond)
	}
	stop()
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d acts failed while a provider left; first: %v", n, acts.Load(), firstErr.Load())
	}
	if got := leaving.Load(); got != after {
		t.Errorf("the node took %d acts after Close returned", got-after)
	}
	t.Logf("%d acts, %d served by the leaving node, none failed", acts.Load(), after)
}

// TestRefusedCredentials: a base that requires credentials refuses a node
// without them at once, with an error that says so, and admits one with
// them (user and password, token).
func TestRefusedCredentials(t *testing.T) {
	for _, c := range []struct {
		name   string
		server func(o *server.Options)
		auth   mesh.Auth
	}{
		{"user", func(o *server.Options) { o.Username, o.Password = "stoa", "s3cret" }, mesh.Auth{User: "stoa", Password: "s3cret"}},
		{"token", func(o *server.Options) { o.Authorization = "t0ken" }, mesh.Auth{Token: "t0ken"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := natstest.Server(t, c.server)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			n, err := mesh.Join(ctx, newEngine(t), mesh.WithURLs(s.ClientURL()))
			if err == nil {
				n.Close(ctx)
				t.Fatal("a node without credentials joined")
			}
			if !strings.Contains(err.Error(), "refused") || time.Since(start) > 5*time.Second {
				t.Errorf("refusal after %v: %v", time.Since(start), err)
			}
			join(t, s, newEngine(t), mesh.WithAuth(c.auth))
		})
	}
}

// kill drops n's connection without a goodbye, as the death of its process
// would, and waits until the server has noticed.
func kill(t *testing.T, s *server.Server, n *mesh.Node) {
	t.Helper()
	before := s.NumClients()
	n.Conn().Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.NumClients() >= before {
		if time.Now().After(deadline) {
			t.Fatal("the server did not notice the node's death")
		}
		time.Sleep(time.Millisecond) // the server has no disconnect notification for its embedder
	}
}

// TestCloseWithoutServer: a node whose server is gone closes at once; it
// has nobody to drain to.
func TestCloseWithoutServer(t *testing.T) {
	s := natstest.Server(t)
	e := newEngine(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := mesh.Join(ctx, e, mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	start := time.Now()
	if err := n.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with no server", d)
	}
}
