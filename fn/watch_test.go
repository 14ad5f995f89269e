package fn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stoaproject/stoa/internal/natstest"
)

// waitTimeout bounds the wait for one event.
const waitTimeout = 20 * time.Second

// next returns the next event, failing the test if none comes in time.
func next(t *testing.T, events <-chan Event) Event {
	t.Helper()
	return nextWithin(t, events, waitTimeout)
}

func nextWithin(t *testing.T, events <-chan Event, waitTimeout time.Duration) Event {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the watch ended")
		}
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("no event after %v", waitTimeout)
	}
	return Event{}
}

// describe is an event in short: "updated hello 2 prod=1".
func describe(e Event) string {
	s := string(e.Op) + " " + e.Name
	if e.Latest != nil {
		s += fmt.Sprint(" ", e.Latest.Number)
	}
	if e.Function != nil && len(e.Function.Aliases) > 0 {
		s += fmt.Sprint(" ", e.Function.Aliases)
	}
	return s
}

func TestWatch(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "old", Config{}, ZipBytes(makeZip(t, bootstrap("old")))); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	events, err := r.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string) func() error {
		return func() error {
			_, err := r.Create(ctx, name, Config{}, ZipBytes(makeZip(t, bootstrap(name))))
			return err
		}
	}
	update := func(cfg *Config, b Bundle) func() error {
		return func() error { _, err := r.Update(ctx, "hello", cfg, b); return err }
	}
	alias := func(n int) func() error { return func() error { return r.SetAlias(ctx, "hello", "prod", n) } }
	steps := []struct {
		do   func() error
		want []string
	}{
		{nil, []string{"created old 1", "ready "}},
		{create("hello"), []string{"created hello 1"}},
		{update(nil, ZipBytes(makeZip(t, bootstrap("2")))), []string{"updated hello 2"}},
		{alias(1), []string{"aliased hello 2 map[prod:1]"}},
		{alias(1), nil}, // no change, no event
		{alias(2), []string{"aliased hello 2 map[prod:2]"}},
		{update(&Config{MemoryMB: 256}, nil), []string{"updated hello 3 map[prod:2]"}},
		{func() error { return r.DeleteAlias(ctx, "hello", "prod") }, []string{"aliased hello 3"}},
		{func() error { return r.Delete(ctx, "old") }, []string{"deleted old"}},
		{create("old"), []string{"created old 1"}},
	}
	var last uint64
	var e Event
	for i, s := range steps {
		if s.do != nil {
			if err := s.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		for _, want := range s.want {
			e = next(t, events)
			if got := describe(e); got != want {
				t.Errorf("step %d: event %q, want %q", i, got, want)
			}
			if e.Op != OpReady && e.Revision <= last {
				t.Errorf("step %d: revision %d after %d, want increasing", i, e.Revision, last)
			}
			last = e.Revision
		}
	}
	if e.Op != OpCreated || e.Latest.Config.MemoryMB != DefaultMemoryMB || e.Latest.CodeSHA == "" {
		t.Errorf("the event of a create carries %+v, want the version", e.Latest)
	}
	stop()
	for range events { // closed once ctx is done
	}
}

// TestWatchReconnect: the server restarts (same port, same store, as `stoa
// up` starting again); the watch resumes, and what changed while it was
// away arrives, possibly merged, ending on the current state.
func TestWatchReconnect(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	o := natstest.Options()
	o.JetStream, o.StoreDir = true, store
	s1, err := natstest.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s1.Shutdown)
	js := connect(t, s1.ClientURL())
	r, err := Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := r.Create(ctx, "hello", Config{}, ZipBytes(makeZip(t, bootstrap("1")))); err != nil {
		t.Fatal(err)
	}
	events, err := r.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"created hello 1", "ready "} {
		if got := describe(next(t, events)); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}

	s1.Shutdown()
	s1.WaitForShutdown()
	o2 := natstest.Options()
	o2.JetStream, o2.StoreDir, o2.Port = true, store, o.Port
	s2, err := natstest.Start(o2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Shutdown)

	// Another client changes the registry, maybe before the watcher's
	// connection is back.
	r2, err := Open(ctx, connect(t, s2.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Update(ctx, "hello", nil, ZipBytes(makeZip(t, bootstrap("2")))); err != nil {
		t.Fatal(err)
	}
	if err := r2.SetAlias(ctx, "hello", "prod", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Update(ctx, "hello", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Create(ctx, "new", Config{}, ZipBytes(makeZip(t, bootstrap("new")))); err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	want := map[string]string{"hello": "3 map[prod:1]", "new": "1"}
	for fmt.Sprint(state) != fmt.Sprint(want) {
		// Within less than the 10 s the client library takes to notice a
		// lost consumer by its heartbeats: the watch resumes on reconnect.
		e := nextWithin(t, events, 5*time.Second)
		if e.Op == OpDeleted || e.Op == OpReady {
			t.Errorf("unexpected event %q after the restart", describe(e))
			continue
		}
		s := fmt.Sprint(e.Latest.Number)
		if len(e.Function.Aliases) > 0 {
			s += fmt.Sprint(" ", e.Function.Aliases)
		}
		state[e.Name] = s
		t.Logf("after the restart: %s", describe(e))
	}
}

// TestWatchClosed: the channel is closed when the connection is.
func TestWatchClosed(t *testing.T) {
	r := newRegistry(t)
	events, err := r.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, events); e.Op != OpReady {
		t.Fatalf("first event of an empty registry %q, want ready", describe(e))
	}
	r.js.Conn().Close()
	select {
	case e, ok := <-events:
		if ok {
			t.Errorf("event %q after the connection closed, want the channel closed", describe(e))
		}
	case <-time.After(waitTimeout):
		t.Errorf("the channel is open %v after the connection closed", waitTimeout)
	}
}
