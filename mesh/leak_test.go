package mesh_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestNoLeaks: nodes that joined, acted, served and closed leave no
// goroutine and no connection behind.
func TestNoLeaks(t *testing.T) {
	s := natstest.Server(t)
	before := runtime.NumGoroutine()
	ctx := t.Context()
	for range 3 {
		p, c := stoa.New(), stoa.New()
		p.Add("role:leak", func(context.Context, stoa.Msg) (any, error) { return stoa.Msg{}, nil })
		pn, err := mesh.Join(ctx, p, mesh.WithURLs(s.ClientURL()), mesh.WithPins("role:leak"), mesh.WithDiscoveryWait(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		cn, err := mesh.Join(ctx, c, mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(10*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if _, err := c.Act(ctx, "role:leak"); err != nil {
				t.Fatal(err)
			}
		}
		if err := cn.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := pn.Close(ctx); err != nil {
			t.Fatal(err)
		}
		p.Close(ctx)
		c.Close(ctx)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before || s.NumClients() > 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			var ours []string
			for _, g := range strings.Split(stacks, "\n\n") {
				if strings.Contains(g, "stoa/mesh") || strings.Contains(g, "nats.go") {
					ours = append(ours, g)
				}
			}
			t.Fatalf("%d goroutines (was %d), %d connections left:\n%s", runtime.NumGoroutine(), before, s.NumClients(), strings.Join(ours, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond) // goroutines end on their own schedule; there is nothing to wait on
	}
}
