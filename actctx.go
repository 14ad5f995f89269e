package stoa

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

type actKey struct{}

// actCtx is the context a handler runs with, and the act's state. It is
// one allocation: the deadline-bound context the handler may ask for with
// Done is made only when it asks.
type actCtx struct {
	parentCtx context.Context
	deadline  time.Time
	e         *Engine
	act       *action
	msg       Msg
	raw       []byte        // msg as JSON, when it came as JSON and is unchanged
	seq       uint64        // of the act id
	parent    *actCtx       // the act whose handler sent this one
	given     *Meta         // metadata from WithMeta
	done      chan struct{} // receives when the handler has returned

	out json.RawMessage
	err error

	mu       sync.Mutex
	finished bool
	dctx     context.Context
	cancel   context.CancelFunc
}

var _ context.Context = (*actCtx)(nil)

func (ac *actCtx) Deadline() (time.Time, bool) { return ac.deadline, true }

func (ac *actCtx) Done() <-chan struct{} {
	return ac.bound().Done()
}

func (ac *actCtx) Err() error {
	ac.mu.Lock()
	d := ac.dctx
	ac.mu.Unlock()
	if d != nil {
		return d.Err()
	}
	if err := ac.parentCtx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(ac.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (ac *actCtx) Value(key any) any {
	switch key.(type) {
	case actKey:
		return ac
	case metaKey:
		return nil // WithMeta applies to one act only, not to its children
	}
	return ac.parentCtx.Value(key)
}

// bound returns the context that ends at the act's deadline, making it on
// first use; after the act has finished it is already canceled.
func (ac *actCtx) bound() context.Context {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if ac.dctx == nil {
		ac.dctx, ac.cancel = context.WithDeadline(ac.parentCtx, ac.deadline)
		if ac.finished {
			ac.cancel()
		}
	}
	return ac.dctx
}

// finish ends the handler's context once the caller has its answer.
func (ac *actCtx) finish() {
	ac.mu.Lock()
	ac.finished = true
	cancel := ac.cancel
	ac.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// serve runs the handler and records its encoded reply.
func (ac *actCtx) serve() {
	defer func() {
		if r := recover(); r != nil {
			ac.e.log.Error("stoa: handler panicked", "pattern", ac.act.pattern, "panic", r, "stack", string(debug.Stack()))
			ac.out, ac.err = nil, &Error{Code: CodeExecute, Pattern: ac.act.pattern,
				Message: fmt.Sprintf("action %s failed: panic: %v", ac.act.pattern, r)}
		}
		ac.done <- struct{}{}
	}()
	out, err := ac.act.h(ac, ac.msg)
	if err != nil {
		ac.err = handlerError(ac.act, err)
		return
	}
	ac.out, ac.err = encodeReply(ac.act, out)
}

// handlerError passes an *Error through and wraps anything else.
func handlerError(a *action, err error) error {
	if se, ok := err.(*Error); ok {
		return se
	}
	return &Error{Code: CodeExecute, Pattern: a.pattern, Message: fmt.Sprintf("action %s failed: %v", a.pattern, err), Err: err}
}

var nullJSON = json.RawMessage("null")

// encodeReply encodes a handler's reply, which must be an object, an array
// or null.
func encodeReply(a *action, v any) (json.RawMessage, error) {
	var b []byte
	switch v := v.(type) {
	case nil:
		return nullJSON, nil
	case json.RawMessage:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, &Error{Code: CodeExecute, Pattern: a.pattern, Message: fmt.Sprintf("action %s failed: cannot encode reply: %v", a.pattern, err), Err: err}
		}
	}
	switch firstByte(b) {
	case '{', '[':
		return b, nil
	case 'n':
		if string(trimSpace(b)) == "null" {
			return nullJSON, nil
		}
	}
	return nil, &Error{Code: CodeResult, Pattern: a.pattern,
		Message: fmt.Sprintf("action %s responded with result that was not an object or array: %.100s", a.pattern, b)}
}

func firstByte(b []byte) byte {
	b = trimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

var donePool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

var timerPool sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timerPool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timerPool.Put(t)
}

// coarseAfter is the timeout from which acts wait on the engine's clock,
// which ticks every coarseTick, instead of on a timer of their own: a timer
// costs more than the rest of an in-process act, and a long timeout does
// not need to end to the millisecond.
const (
	coarseAfter = 2 * time.Second
	coarseTick  = 50 * time.Millisecond
)

// clock closes a fresh channel every coarseTick while acts are in flight,
// and stops by itself when none are.
type clock struct {
	mu   sync.Mutex
	ch   atomic.Pointer[chan struct{}] // nil while stopped
	busy func() bool
}

// tick returns a channel closed at the next tick, starting the clock.
func (c *clock) tick() <-chan struct{} {
	if p := c.ch.Load(); p != nil {
		return *p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.ch.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	c.ch.Store(&ch)
	go c.run()
	return ch
}

func (c *clock) run() {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	for range t.C {
		c.mu.Lock()
		old := c.ch.Load()
		var next *chan struct{}
		if c.busy() {
			ch := make(chan struct{})
			next = &ch
		}
		c.ch.Store(next)
		c.mu.Unlock()
		close(*old)
		if next == nil {
			return
		}
	}
}
