package test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestClusterBaseKilled: three `stoa base` processes in a cluster, three
// providers and a caller connected with every seed URL; under a steady
// load, the base the caller is connected to is killed with SIGKILL. The
// clients reconnect to the other bases. Goal: no failed act on the
// idempotent pin, and no gap of 2 s without a reply.
//
// The load is 250 acts/s: enough to see a gap to within 8 ms on each pin,
// and a small share of a 2-core machine that other test packages share
// (at 1,000 acts/s the seven processes, built with -race, took most of
// a core, so a loaded machine left them behind the load; see
// RATIONALE.md, "Failover").
func TestClusterBaseKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stoa base processes")
	}
	bin := stoaCommand(t)
	var bases []*proc
	var urls []string
	var seed string
	for i := range 3 {
		args := []string{bin, "base", "--listen", "127.0.0.1:0", "--cluster", "127.0.0.1:0", "--http", "", "--name", "b" + itoa(i+1)}
		if seed != "" {
			args = append(args, "--routes", seed)
		}
		b := start(t, "b"+itoa(i+1), nil, args...)
		line := b.line(t, "ready")
		var nats, cluster string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "nats="); ok {
				nats = v
			}
			if v, ok := strings.CutPrefix(f, "cluster="); ok {
				cluster = v
			}
		}
		if seed == "" {
			seed = cluster
		}
		bases = append(bases, b)
		urls = append(urls, nats)
	}
	waitRouted(t, urls)
	all := strings.Join(urls, ",")
	for _, name := range []string{"p1", "p2", "p3"} {
		startProvider(t, name, all, 2*time.Millisecond, "")
	}
	e, n := caller(t, all)
	waitProviders(t, n, 3)
	victim := 0
	for i, u := range urls {
		if u == n.Conn().ConnectedUrl() {
			victim = i
		}
	}
	const (
		rate   = 250
		dur    = 4 * time.Second
		killAt = 1500 * time.Millisecond
	)
	out := load(t, e, []string{plainPin, idemPin}, rate, dur, time.Second, map[time.Duration]func(){
		killAt: func() { bases[victim].signal(t, syscall.SIGKILL) },
	})
	plain, idem := summarize(out, plainPin, killAt, dur), summarize(out, idemPin, killAt, dur)
	t.Logf("killed base %s (the caller's); plain pin: %v", bases[victim].name, plain)
	t.Logf("killed base %s (the caller's); idempotent pin: %v", bases[victim].name, idem)
	if idem.failed != 0 {
		t.Errorf("%d acts on the idempotent pin failed (%v, sent %v to %v after the start; the first: %v), want 0",
			idem.failed, idem.errs, idem.firstFail, idem.lastFailSent, idem.firstErr)
	}
	if idem.gap >= 2*time.Second || plain.gap >= 2*time.Second {
		t.Errorf("longest gap without a reply: %v (idempotent), %v (plain); want < 2 s", idem.gap, plain.gap)
	}
	if got := n.Conn().ConnectedUrl(); got == urls[victim] {
		t.Errorf("the caller is still on the killed base")
	}
}

// waitRouted waits until the bases at urls route to one another: a
// request from a client of each base reaches a subscriber on every other
// base and its reply comes back. A base prints "ready" once it listens;
// its routes form after that, and until they have, an act can reach
// only some of the providers (and an announcement only some of the nodes).
func waitRouted(t *testing.T, urls []string) {
	t.Helper()
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	subject := func(i int) string { return fmt.Sprintf("stoa.meshtest.routed.%d", i) }
	for i, u := range urls {
		nc, err := nats.Connect(u, nats.MaxReconnects(0))
		if err != nil {
			t.Fatalf("base %d: %v", i+1, err)
		}
		conns = append(conns, nc)
		if _, err := nc.Subscribe(subject(i), func(m *nats.Msg) { m.Respond(nil) }); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := range conns {
		for j, nc := range conns {
			if i == j {
				continue
			}
			// "No responders" comes back at once while base j knows no
			// subscriber of the subject: try again on the next tick.
			for {
				_, err := nc.Request(subject(i), nil, time.Second)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a client of base %d does not reach one of base %d in 30 s: %v", j+1, i+1, err)
				}
				<-tick.C
			}
		}
	}
}
