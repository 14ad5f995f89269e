package test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

func caller(t *testing.T, urls string) (*stoa.Engine, *mesh.Node) {
	t.Helper()
	e := stoa.New()
	t.Cleanup(func() { e.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	n, err := mesh.Join(ctx, e, mesh.WithURLs(urls), mesh.WithName("caller"), mesh.WithRetryAfter(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return e, n
}

func waitProviders(t *testing.T, n *mesh.Node, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, pin := range []string{plainPin, idemPin} {
		if err := n.WaitFor(ctx, pin, want); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIGKILL: three provider processes under a steady load; one is
// killed with SIGKILL. Acts sent after that go to the survivors with no
// error; acts in flight on the dead one fail with action_timeout by their
// deadline on the plain pin, and are answered by a survivor on the
// idempotent pin.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs provider processes")
	}
	s := natstest.Server(t)
	url := s.ClientURL()
	var ps []*proc
	for _, name := range []string{"p1", "p2", "p3"} {
		ps = append(ps, startProvider(t, name, url, 20*time.Millisecond, ""))
	}
	e, n := caller(t, url)
	waitProviders(t, n, 3)
	const (
		rate    = 600
		dur     = 3 * time.Second
		killAt  = time.Second
		timeout = time.Second
	)
	out := load(t, e, []string{plainPin, idemPin}, rate, dur, timeout, map[time.Duration]func(){
		killAt: func() { ps[2].signal(t, syscall.SIGKILL) },
	})
	plain, idem := summarize(out, plainPin, killAt, dur), summarize(out, idemPin, killAt, dur)
	t.Logf("plain pin: %v", plain)
	t.Logf("idempotent pin: %v", idem)
	if idem.failed != 0 {
		t.Errorf("%d acts on the idempotent pin failed (%v), want 0", idem.failed, idem.errs)
	}
	for _, o := range out {
		if o.err == nil {
			if o.sent > killAt+250*time.Millisecond && o.by == "p3" {
				t.Errorf("an act sent %v after the kill was answered by the dead provider", o.sent-killAt)
			}
			continue
		}
		if !errors.Is(o.err, stoa.ErrTimeout) {
			t.Errorf("act %s sent at %v failed with %v, want action_timeout", o.pin, o.sent, o.err)
		}
		if o.sent < killAt-timeout || o.sent > killAt+250*time.Millisecond {
			t.Errorf("act %s sent at %v (kill at %v) failed: only acts in flight at the kill may", o.pin, o.sent, killAt)
		}
		if took := o.done - o.sent; took > timeout+250*time.Millisecond {
			t.Errorf("a failed act took %v, past its %v deadline", took, timeout)
		}
	}
}

// TestSIGTERM: a provider process that gets SIGTERM under load drains:
// no caller sees an error.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs provider processes")
	}
	s := natstest.Server(t)
	url := s.ClientURL()
	p1 := startProvider(t, "p1", url, 5*time.Millisecond, "")
	startProvider(t, "p2", url, 5*time.Millisecond, "")
	e, n := caller(t, url)
	waitProviders(t, n, 2)
	const dur, termAt = 2500 * time.Millisecond, time.Second
	out := load(t, e, []string{plainPin}, 600, dur, 2*time.Second, map[time.Duration]func(){
		termAt: func() { go p1.signal(t, syscall.SIGTERM) },
	})
	sum := summarize(out, plainPin, termAt, dur)
	t.Logf("plain pin: %v", sum)
	if sum.failed != 0 {
		t.Errorf("%d acts failed while a provider drained, want 0", sum.failed)
	}
	<-p1.done
	if p1.err != nil {
		t.Errorf("provider after SIGTERM: %v", p1.err)
	}
}
