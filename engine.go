package stoa

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout is how long an act may take when neither the context nor
// the message (timeout$, in milliseconds) says otherwise: Seneca's 22222 ms.
const DefaultTimeout = 22222 * time.Millisecond

// Handler answers the messages of a pattern. Its reply is encoded to JSON
// once and must be a JSON object, an array or null (Seneca's rule); a
// json.RawMessage is passed through as it is. An error that is an *Error
// reaches the caller unchanged (a transport returns the far side's error);
// any other error, and a panic, becomes act_execute.
//
// ctx carries the act's deadline and metadata (ContextMeta); acts sent on
// it are children of this one. A Handler must be safe for concurrent use.
type Handler func(ctx context.Context, msg Msg) (any, error)

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithTimeout sets the default act timeout (DefaultTimeout if not set;
// d <= 0 keeps the default).
func WithTimeout(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.timeout = d
		}
	}
}

// WithStrictAdd limits Prior to the pattern an Add replaced exactly, as
// Seneca's strict.add option does. By default (false) the prior of a new
// pattern is whatever that pattern matched when it was added.
func WithStrictAdd(strict bool) Option { return func(e *Engine) { e.strictAdd = strict } }

// Engine routes messages to the handlers of the most specific matching
// pattern. Its methods are safe for concurrent use. The zero value is not
// usable; call New.
type Engine struct {
	log       *slog.Logger
	timeout   time.Duration
	strictAdd bool
	id        string // this engine, as callers see it
	prefix    string // of act ids

	mu      sync.RWMutex
	routes  router
	plugins []*Plugin

	seq    atomic.Uint64
	state  atomic.Int64  // acts in flight, plus closingBit
	idle   chan struct{} // closed by the last act to finish after Close began
	closed sync.Once
}

const closingBit = 1 << 62

// New returns an Engine. It starts no goroutines: handlers run on the
// goroutine of the caller of Act.
func New(opts ...Option) *Engine {
	e := &Engine{
		log:     slog.New(slog.DiscardHandler),
		timeout: DefaultTimeout,
		id:      randomID(12),
		idle:    make(chan struct{}),
	}
	e.prefix = e.id[:8] + "."
	for _, o := range opts {
		o(e)
	}
	return e
}

// ID identifies the engine: act ids start with it, and transports send it
// as the caller.
func (e *Engine) ID() string { return e.id }

func randomID(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// action is one added pattern.
type action struct {
	h       Handler
	pattern string                 // canonical form
	fields  []field                // the pattern's keys and values, sorted, as the router stores them
	rules   *ruleSet               // nil when the pattern has no validation rules
	prior   atomic.Pointer[action] // what this pattern replaced (Prior calls it)
	plugin  string                 // the plugin that added it, if any
}

// Add registers h for pattern: a string in Seneca's form
// ("role:math,cmd:sum"), a Msg or map, or a struct that encodes to a JSON
// object. Values that are objects, arrays or Rules are validation rules, not
// match keys. Adding a pattern again replaces it; the handler it replaced is
// what Prior calls.
func (e *Engine) Add(pattern any, h Handler) error {
	_, err := e.add(pattern, h, "")
	return err
}

// AddRemovable adds h for pattern as Add does, and returns a function that
// removes that handler and no other: a transport that adds a pattern on
// someone else's behalf (a mesh forwarding a remote pin) takes back only
// what it added. If h still answers pattern, remove takes it out and the
// handler it replaced answers again, as with Remove. If a later Add
// replaced h, the later handler stays, and h is no longer its prior.
// remove reports whether h was still there; calling it again does nothing
// and reports false.
func (e *Engine) AddRemovable(pattern any, h Handler) (remove func() bool, err error) {
	act, err := e.add(pattern, h, "")
	if err != nil {
		return nil, err
	}
	return func() bool { return e.removeAction(act) }, nil
}

func (e *Engine) add(p any, h Handler, plugin string) (*action, error) {
	if h == nil {
		return nil, errors.New("stoa: Add with a nil handler")
	}
	pat, err := parsePattern(p)
	if err != nil {
		return nil, err
	}
	act := &action{h: h, pattern: pat.canon, fields: pat.fields, plugin: plugin}
	if pat.rules != nil {
		if act.rules, err = compileRules(pat.rules); err != nil {
			return nil, &Error{Code: CodePatternSyntax, Message: fmt.Sprintf("pattern %s has a bad rule: %v", pat.canon, err)}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Seneca finds the prior by acting the pattern itself as a message.
	if prior := e.routes.find(pat.values); prior != nil && (!e.strictAdd || prior.pattern == act.pattern) {
		act.prior.Store(prior)
	}
	e.routes.add(pat.fields, act)
	return act, nil
}

// removeAction takes act out of the trie, restoring what it replaced, or,
// when a later Add replaced it, out of the chain of priors of the handler
// that answers its pattern now.
func (e *Engine) removeAction(act *action) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.routes.exact(act.fields)
	if cur == nil {
		return false
	}
	if cur == act {
		e.routes.remove(act.fields)
		if p := act.prior.Load(); p != nil && p.pattern == act.pattern {
			e.routes.add(act.fields, p)
		}
		return true
	}
	for a := cur; a != nil; a = a.prior.Load() {
		if a.prior.Load() == act {
			a.prior.Store(act.prior.Load())
			return true
		}
	}
	return false
}

// Remove removes the handler added for exactly pattern and reports whether
// there was one. The handler it replaced, if any, answers again: removing
// an override restores what it overrode.
func (e *Engine) Remove(pattern any) (bool, error) {
	pat, err := parsePattern(pattern)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.routes.remove(pat.fields)
	if a == nil {
		return false, nil
	}
	if p := a.prior.Load(); p != nil && p.pattern == a.pattern {
		e.routes.add(pat.fields, p)
	}
	return true, nil
}

// Patterns lists the canonical form of every pattern that answers acts,
// sorted.
func (e *Engine) Patterns() []string {
	e.mu.RLock()
	acts := e.routes.all()
	e.mu.RUnlock()
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		out = append(out, a.pattern)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Find returns the canonical pattern that would answer msg, without acting.
func (e *Engine) Find(msg any) (pattern string, ok bool) {
	m, _, err := asMsg(msg)
	if err != nil {
		return "", false
	}
	if a := e.find(m); a != nil {
		return a.pattern, true
	}
	return "", false
}

func (e *Engine) find(m Msg) *action {
	e.mu.RLock()
	a := e.routes.find(m)
	e.mu.RUnlock()
	return a
}

// Act sends msg to the handler of the most specific matching pattern and
// returns its JSON reply. msg is a Msg or map, a string in Seneca's form, a
// JSON []byte or json.RawMessage, or a struct that encodes to a JSON object.
//
// The handler runs on the calling goroutine with a context that ends at the
// earliest of ctx's deadline, the message's timeout$ (milliseconds) and the
// engine's timeout; a reply after that deadline is discarded and the caller
// gets an *Error of code action_timeout. Errors are always
// *Error: act_not_found when no pattern matches (unless the message has a
// default$ object, which is then the reply), act_invalid_msg when the
// message breaks the pattern's rules, act_execute when the handler fails.
func (e *Engine) Act(ctx context.Context, msg any) (json.RawMessage, error) {
	out, _, err := e.act(ctx, msg)
	return out, err
}

// ActPattern acts msg as Act does and also returns the canonical pattern
// that matched it (what Find returns), or "" when none did or msg did not
// decode: a transport labels what it served with it, without a second
// decode and lookup.
func (e *Engine) ActPattern(ctx context.Context, msg any) (out json.RawMessage, pattern string, err error) {
	return e.act(ctx, msg)
}

func (e *Engine) act(ctx context.Context, msg any) (json.RawMessage, string, error) {
	m, raw, err := asMsg(msg)
	if err != nil {
		return nil, "", err
	}
	// The lookup comes first so that the pattern is known even for an act
	// the closed engine refuses.
	a := e.find(m)
	var pattern string
	if a != nil {
		pattern = a.pattern
	}
	if e.state.Add(1)&closingBit != 0 {
		e.done()
		return nil, pattern, &Error{Code: CodeClosed, Message: "engine closed"}
	}
	defer e.done()
	if a == nil {
		if d, ok := m["default$"]; ok && isCompound(d) {
			out, err := json.Marshal(d)
			return out, "", err
		}
		return nil, "", &Error{Code: CodeNotFound, Message: "no matching pattern for " + describe(m), Details: map[string]any{"args": m}}
	}
	if a.rules != nil {
		valid, err := a.rules.validate(m)
		if err != nil {
			return nil, pattern, &Error{Code: CodeInvalidMsg, Pattern: a.pattern, Message: fmt.Sprintf("action %s received an invalid message; %v", a.pattern, err), Err: err}
		}
		if !sameMap(valid, m) {
			m, raw = valid, nil
		}
	}
	out, err := e.run(ctx, a, m, raw)
	return out, pattern, err
}

// run calls a's handler on this goroutine with a context that ends at the
// act's deadline. A reply that comes after the deadline is discarded, as
// Seneca discards late replies: the caller gets action_timeout.
func (e *Engine) run(ctx context.Context, a *action, m Msg, raw []byte) (json.RawMessage, error) {
	start := monoNow()
	timeout := e.timeout
	if t, ok := msgTimeout(m); ok {
		timeout = t
	}
	deadline := start + timeout
	if d, ok := ctx.Deadline(); ok {
		deadline = min(deadline, d.Sub(epoch))
	}
	ac := &actCtx{parentCtx: ctx, deadline: deadline, e: e, act: a, msg: m, raw: raw, seq: e.seq.Add(1)}
	ac.parent, _ = ctx.Value(actKey{}).(*actCtx)
	ac.given, _ = ctx.Value(metaKey{}).(*Meta)
	out, err := ac.serve()
	ac.finish()
	if monoNow() >= deadline {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
			return nil, canceledError(a, cerr)
		}
		return nil, timeoutError(a, m, start)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, canceledError(a, cerr)
		}
	}
	return out, err
}

func canceledError(a *action, err error) *Error {
	return &Error{Code: CodeCanceled, Pattern: a.pattern, Message: "act canceled by the caller", Err: err}
}

func (e *Engine) done() {
	if e.state.Add(-1) == closingBit {
		e.closeIdle()
	}
}

func (e *Engine) closeIdle() {
	e.closed.Do(func() { close(e.idle) })
}

// epoch is the origin of monoNow. Acts keep their times as durations
// since it: reading only the monotonic clock costs half of time.Now.
var epoch = time.Now()

func monoNow() time.Duration { return time.Since(epoch) }

func timeoutError(a *action, m Msg, start time.Duration) *Error {
	ms := (monoNow() - start).Milliseconds()
	return &Error{
		Code:    CodeTimeout,
		Pattern: a.pattern,
		Message: fmt.Sprintf("[TIMEOUT] action %s timed out after %d ms; message was %s", a.pattern, ms, describe(m)),
	}
}

// msgTimeout reads the message's timeout$ in milliseconds.
func msgTimeout(m Msg) (time.Duration, bool) {
	v, ok := m["timeout$"]
	if !ok {
		return 0, false
	}
	var ms float64
	switch v := v.(type) {
	case float64:
		ms = v
	case int:
		ms = float64(v)
	case int64:
		ms = float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, false
		}
		ms = f
	default:
		return 0, false
	}
	if ms <= 0 {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// describe renders a message for an error text, briefly, without the
// directives (keys ending in $).
func describe(m Msg) string {
	shown := make(map[string]any, len(m))
	for k, v := range m {
		if !strings.HasSuffix(k, "$") {
			shown[k] = v
		}
	}
	b, err := json.Marshal(shown)
	if err != nil {
		return fmt.Sprint(map[string]any(m))
	}
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// sameMap reports whether a and b are the same map (not equal: the same).
func sameMap(a, b Msg) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// Close stops the engine taking new acts, waits for the acts in flight to
// finish or for ctx to end, then closes the plugins in the reverse order of
// Use. Acts after Close fail with code closed. Calling Close again waits
// again and returns nil.
func (e *Engine) Close(ctx context.Context) error {
	if e.state.Or(closingBit)&^closingBit == 0 {
		e.closeIdle()
	}
	var err error
	select {
	case <-e.idle:
	case <-ctx.Done():
		err = fmt.Errorf("stoa: close: %d acts still in flight: %w", e.state.Load()&^closingBit, ctx.Err())
	}
	e.mu.Lock()
	plugins := e.plugins
	e.plugins = nil
	e.mu.Unlock()
	for _, p := range slices.Backward(plugins) {
		if p.Close != nil {
			if cerr := p.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, fmt.Errorf("stoa: close plugin %s: %w", p.Name, cerr))
			}
		}
	}
	return err
}
