package gateway

import (
	"context"
	"sync"
	"time"
)

// routeCtx is a request's context bounded by its route's timeout, as
// context.WithTimeout would make it, without the timer and the
// registration with the request's context that WithTimeout makes for every
// request: the engine and the mesh read only the deadline (stoa's own act
// context waits on Done only when a handler asks), so the timer-bound
// context is made on the first call of Done, if any. It lives in the
// request (no allocation of its own); release ends it as WithTimeout's
// cancel does.
type routeCtx struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex // guards what follows
	bound    context.Context
	cancel   context.CancelFunc
	released bool
}

var _ context.Context = (*routeCtx)(nil)

// init sets c to end at now+d or when parent ends.
func (c *routeCtx) init(parent context.Context, d time.Duration) {
	c.parent = parent
	c.deadline = time.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
}

func (c *routeCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *routeCtx) Done() <-chan struct{} { return c.boundCtx().Done() }

// Err is what WithTimeout's context would answer: the bound context's
// error once made, else the parent's, else DeadlineExceeded once the
// deadline has passed.
func (c *routeCtx) Err() error {
	c.mu.Lock()
	b, released := c.bound, c.released
	c.mu.Unlock()
	switch {
	case b != nil:
		return b.Err()
	case released:
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *routeCtx) Value(key any) any { return c.parent.Value(key) }

// AfterFunc lets a context derived from c (context.WithCancel(c), say)
// follow it without a goroutine of its own.
func (c *routeCtx) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.boundCtx(), f)
}

// boundCtx returns the context that ends at the deadline, making it on
// first use; once c is released it is made already canceled.
func (c *routeCtx) boundCtx() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bound == nil {
		c.bound, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.bound
}

// release ends c, as WithTimeout's cancel does: its timer, if made, stops.
func (c *routeCtx) release() {
	c.mu.Lock()
	c.released = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
