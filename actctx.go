package stoa

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

type actKey struct{}

// actCtx is the context a handler runs with, and the act's state. It is
// one allocation: the deadline-bound context the handler may ask for with
// Done is made only when it asks.
type actCtx struct {
	parentCtx context.Context
	deadline  time.Duration // since epoch
	e         *Engine
	act       *action
	msg       Msg
	raw       []byte  // msg as JSON, when it came as JSON and is unchanged
	seq       uint64  // of the act id
	parent    *actCtx // the act whose handler sent this one
	given     *Meta   // metadata from WithMeta

	mu       sync.Mutex
	finished bool
	dctx     context.Context
	cancel   context.CancelFunc
}

var _ context.Context = (*actCtx)(nil)

func (ac *actCtx) Deadline() (time.Time, bool) { return epoch.Add(ac.deadline), true }

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
	if monoNow() >= ac.deadline {
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
		ac.dctx, ac.cancel = context.WithDeadline(ac.parentCtx, epoch.Add(ac.deadline))
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

// serve runs the handler and returns its encoded reply; a panic becomes
// act_execute and is logged with its stack.
func (ac *actCtx) serve() (out json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			ac.e.log.Error("stoa: handler panicked", "pattern", ac.act.pattern, "panic", r, "stack", string(debug.Stack()))
			out, err = nil, &Error{Code: CodeExecute, Pattern: ac.act.pattern,
				Message: fmt.Sprintf("action %s failed: panic: %v", ac.act.pattern, r)}
		}
	}()
	v, err := ac.act.h(ac, ac.msg)
	if err != nil {
		return nil, handlerError(ac.act, err)
	}
	return encodeReply(ac.act, v)
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
