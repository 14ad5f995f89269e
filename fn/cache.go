package fn

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cache answers [Registry.Resolve] from memory, so that an invocation
// does not pay a registry read, and still sees a change as soon as the
// writer has been told it is done. It listens, on the connection the
// invocations arrive on, to the writes to functions' records as they are
// published; nats.go hands such a message to the Cache's channel before
// it reads anything that follows it on the connection. An invocation sent
// after a write returned (its acknowledgement came after the publish) thus
// arrives after the write's message, and Resolve looks at that message
// first: the function's entry is then distrusted until a read from the
// stream's leader returns a revision newer than the one the write
// expected (every write of the registry is a compare-and-set), which holds
// whether the write went in or lost to another. See RATIONALE.md ("The
// resolve cache").
//
// A Cache is safe for concurrent use. Close it when done.
type Cache struct {
	r   *Registry
	nc  *nats.Conn
	sub *nats.Subscription
	ch  chan *nats.Msg

	stop chan struct{}
	done chan struct{}

	mu         sync.Mutex
	fns        map[string]*cached
	suspect    map[string]uint64 // entries trusted only above this revision; one per name ever written
	reconnects uint64            // the connection's count when the entries were made
	off        bool              // a write's message was dropped: read every time
}

// cached is one function's record as last read, and the versions resolved
// through it (they never change within one incarnation of the name).
type cached struct {
	h        *head
	rev      uint64
	versions map[int]*Version
}

// cacheSubject is the subject the registry writes functions' records on.
const cacheSubject = "$KV." + ConfigBucket + ".fn.>"

// NewCache starts a cache of r's functions that listens on nc, which must
// be the connection the callers' requests arrive on for a write to be seen
// at once (see [Cache]). It returns once the server has the subscription.
func (r *Registry) NewCache(ctx context.Context, nc *nats.Conn) (*Cache, error) {
	c := &Cache{
		r: r, nc: nc, ch: make(chan *nats.Msg, 4096), stop: make(chan struct{}), done: make(chan struct{}),
		fns: map[string]*cached{}, suspect: map[string]uint64{}, reconnects: nc.Stats().Reconnects,
	}
	sub, err := nc.ChanSubscribe(cacheSubject, c.ch)
	if err != nil {
		return nil, err
	}
	c.sub = sub
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readTimeout)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	go c.sweep()
	return c, nil
}

// sweep takes in writes' messages now and then, so that the channel never
// fills while no invocation comes.
func (c *Cache) sweep() {
	defer close(c.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.drainLocked()
			c.mu.Unlock()
		}
	}
}

// Close stops the cache; Resolve then reads the registry every time.
func (c *Cache) Close() {
	c.mu.Lock()
	if c.off && c.sub == nil {
		c.mu.Unlock()
		return
	}
	c.off = true
	sub := c.sub
	c.sub = nil
	c.mu.Unlock()
	sub.Unsubscribe()
	close(c.stop)
	<-c.done
}

// drainLocked takes in the writes' messages that came so far. c.mu is held.
func (c *Cache) drainLocked() {
	if c.off {
		return
	}
	if n := c.nc.Stats().Reconnects; n != c.reconnects {
		// Writes made while the connection was down sent us nothing.
		c.reconnects = n
		clear(c.fns)
	}
	for {
		select {
		case m := <-c.ch:
			name := strings.TrimPrefix(m.Subject, cacheSubject[:len(cacheSubject)-1])
			bound := uint64(math.MaxUint64) // a write without compare-and-set: not ours; read every time
			if exp, err := strconv.ParseUint(m.Header.Get(jetstream.ExpectedLastSubjSeqHeader), 10, 64); err == nil {
				bound = exp
			}
			c.suspect[name] = max(c.suspect[name], bound)
			if e := c.fns[name]; e != nil && e.rev <= bound {
				delete(c.fns, name)
			}
		default:
			if d, _ := c.sub.Dropped(); d > 0 {
				c.off = true // a write went unseen: trust nothing from now on
				clear(c.fns)
			}
			return
		}
	}
}

// Resolve is [Registry.Resolve], from memory when the function's record
// is known current. The Version returned may share its maps
// (Config.Env) with other callers': read them, do not change them.
func (c *Cache) Resolve(ctx context.Context, name, qualifier string) (*Version, error) {
	c.mu.Lock()
	c.drainLocked()
	e := c.fns[name]
	c.mu.Unlock()
	if e == nil {
		if err := checkName(name); err != nil {
			return nil, err
		}
		h, rev, err := c.r.head(ctx, name)
		if err != nil {
			return nil, err
		}
		e = &cached{h: h, rev: rev, versions: map[int]*Version{}}
		c.mu.Lock()
		c.drainLocked()
		if old := c.fns[name]; !c.off && rev > c.suspect[name] && (old == nil || old.rev < rev) {
			if old != nil && old.h.ID == h.ID {
				e.versions = old.versions
			}
			c.fns[name] = e
		}
		c.mu.Unlock()
	}
	return c.resolveIn(ctx, e, qualifier)
}

// resolveIn resolves qualifier against the record e holds.
func (c *Cache) resolveIn(ctx context.Context, e *cached, qualifier string) (*Version, error) {
	h := e.h
	n := h.Latest
	switch {
	case isLatest(qualifier):
	case allDigits(qualifier):
		var err error
		if n, err = strconv.Atoi(qualifier); err != nil {
			n = -1 // too large to be a version
		}
	default:
		var ok bool
		if n, ok = h.Aliases[qualifier]; !ok {
			return nil, &Error{Code: CodeAliasNotFound, Function: h.Name, Message: "no alias " + strconv.Quote(qualifier)}
		}
	}
	if n == h.Latest {
		v := h.Current
		return &v, nil
	}
	c.mu.Lock()
	v := e.versions[n]
	c.mu.Unlock()
	if v == nil {
		var err error
		if v, err = c.r.version(ctx, h, n); err != nil {
			return nil, err
		}
		c.mu.Lock()
		e.versions[n] = v
		c.mu.Unlock()
	}
	cp := *v
	return &cp, nil
}
