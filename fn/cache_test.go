package fn

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
)

// cacheOn opens a second registry and a cache of it on their own
// connection to s, as a worker has: writes come from another client.
func cacheOn(t *testing.T, url string) (*Registry, *Cache) {
	t.Helper()
	js := connect(t, url)
	r, err := Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.NewCache(t.Context(), js.Conn())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return r, c
}

// relay returns a function that sends a message from the writer's
// connection to the cache's and waits for it there: a request sent after
// a write returned, as a caller's act reaches a worker.
func relay(t *testing.T, from, to *nats.Conn) func() {
	t.Helper()
	sub, err := to.SubscribeSync(nats.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := to.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := from.Publish(sub.Subject, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsgWithContext(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCacheSeesWritesAtOnce changes a function from one client and
// resolves it through a cache on another as soon as a request sent after
// the change arrives there: every resolve sees the change.
func TestCacheSeesWritesAtOnce(t *testing.T) {
	s := jsServer(t)
	ctx := t.Context()
	w, err := Open(ctx, connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	_, c := cacheOn(t, s.ClientURL())
	request := relay(t, w.js.Conn(), c.nc)
	code := ZipBytes(makeZip(t, bootstrap("x")))
	if _, err := w.Create(ctx, "hello", Config{}, code); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 20; i++ {
		if v, err := c.Resolve(ctx, "hello", ""); err != nil || v.Number != i-1 {
			t.Fatalf("before update %d: Resolve = %v, %v; want version %d", i, v, err, i-1)
		}
		if _, err := w.Update(ctx, "hello", &Config{MemoryMB: 128 + i}, nil); err != nil {
			t.Fatal(err)
		}
		request()
		if v, err := c.Resolve(ctx, "hello", "latest"); err != nil || v.Number != i || v.Config.MemoryMB != 128+i {
			t.Fatalf("right after update %d: Resolve = %+v, %v; want version %d", i, v, err, i)
		}
		if err := w.SetAlias(ctx, "hello", "live", i-1); err != nil {
			t.Fatal(err)
		}
		request()
		if v, err := c.Resolve(ctx, "hello", "live"); err != nil || v.Number != i-1 {
			t.Fatalf("right after alias %d: Resolve(live) = %v, %v; want version %d", i, v, err, i-1)
		}
	}
	if err := w.Delete(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	request()
	if _, err := c.Resolve(ctx, "hello", ""); !errors.Is(err, &Error{Code: CodeNotFound}) {
		t.Fatalf("right after delete: Resolve = %v, want %s", err, CodeNotFound)
	}
	if _, err := w.Create(ctx, "hello", Config{}, code); err != nil {
		t.Fatal(err)
	}
	request()
	if v, err := c.Resolve(ctx, "hello", ""); err != nil || v.Number != 1 {
		t.Fatalf("right after re-create: Resolve = %v, %v; want version 1", v, err)
	}
	if _, err := c.Resolve(ctx, "hello", "5"); !errors.Is(err, &Error{Code: CodeVersionNotFound}) {
		t.Fatalf("version of the old incarnation: Resolve = %v, want %s", err, CodeVersionNotFound)
	}
}

// TestCacheReadsOnce resolves an unchanged function many times: the
// registry is read once for the record and once per older version.
func TestCacheReadsOnce(t *testing.T) {
	s := jsServer(t)
	ctx := t.Context()
	r, c := cacheOn(t, s.ClientURL())
	code := ZipBytes(makeZip(t, bootstrap("x")))
	if _, err := r.Create(ctx, "hello", Config{}, code); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, "hello", nil, code); err != nil {
		t.Fatal(err)
	}
	before := r.reads.Load()
	for range 100 {
		for q, want := range map[string]int{"": 2, "1": 1, "2": 2} {
			if v, err := c.Resolve(ctx, "hello", q); err != nil || v.Number != want {
				t.Fatalf("Resolve(%q) = %v, %v; want version %d", q, v, err, want)
			}
		}
	}
	if got := r.reads.Load() - before; got != 2 {
		t.Errorf("300 resolves made %d registry reads, want 2", got)
	}

	// Of two writes expecting the same revision, one loses: the cache
	// reads again once, and the winner's revision is newer than expected.
	kv := r.kv
	e, err := kv.Get(ctx, headKey("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Update(ctx, headKey("hello"), e.Value(), e.Revision()); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Update(ctx, headKey("hello"), e.Value(), e.Revision()); err == nil {
		t.Fatal("a stale compare-and-set went in")
	}
	before = r.reads.Load()
	for range 10 {
		if v, err := c.Resolve(ctx, "hello", ""); err != nil || v.Number != 2 {
			t.Fatalf("after a lost write: Resolve = %v, %v", v, err)
		}
	}
	if got := r.reads.Load() - before; got != 1 {
		t.Errorf("10 resolves after a lost write made %d reads, want 1", got)
	}
}

// TestCacheAfterReconnect drops the cache's entries when its connection
// comes back: writes made meanwhile sent it nothing.
func TestCacheAfterReconnect(t *testing.T) {
	s := jsServer(t)
	ctx := t.Context()
	w, err := Open(ctx, connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	r, c := cacheOn(t, s.ClientURL())
	code := ZipBytes(makeZip(t, bootstrap("x")))
	if _, err := w.Create(ctx, "hello", Config{}, code); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Resolve(ctx, "hello", ""); err != nil || v.Number != 1 {
		t.Fatalf("Resolve = %v, %v", v, err)
	}
	// Pretend the connection came back: the reconnect count moved.
	c.mu.Lock()
	c.reconnects--
	c.mu.Unlock()
	before := r.reads.Load()
	if _, err := c.Resolve(ctx, "hello", ""); err != nil {
		t.Fatal(err)
	}
	if got := r.reads.Load() - before; got != 1 {
		t.Errorf("after a reconnect: %d reads, want 1", got)
	}
}
