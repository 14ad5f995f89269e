package test

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterBaseKilled: three `stoa base` processes in a cluster, three
// providers and a caller connected with every seed URL; under a steady
// load, the base the caller is connected to is killed with SIGKILL. The
// clients reconnect to the other bases. Goal: no failed act on the
// idempotent pin, and no gap of 2 s without a reply.
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
		rate   = 1000
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
		t.Errorf("%d acts on the idempotent pin failed (%v, sent %v to %v after the start), want 0", idem.failed, idem.errs, idem.firstFail, idem.lastFailSent)
	}
	if idem.gap >= 2*time.Second || plain.gap >= 2*time.Second {
		t.Errorf("longest gap without a reply: %v (idempotent), %v (plain); want < 2 s", idem.gap, plain.gap)
	}
	if got := n.Conn().ConnectedUrl(); got == urls[victim] {
		t.Errorf("the caller is still on the killed base")
	}
}
