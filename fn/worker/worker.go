package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
	"github.com/stoaproject/stoa/mesh"
)

// Pattern is the pin a worker serves: every act with an fn key.
const Pattern = "fn:*"

// DefaultIdleTimeout is how long an environment stays warm without an
// invocation before the worker closes it, when the Worker sets no
// IdleTimeout. Lambda keeps idle environments for minutes too.
const DefaultIdleTimeout = 5 * time.Minute

// MaxTimeout bounds an act on a worker: Lambda's longest function timeout
// (15 minutes) and a margin for a cold start.
const MaxTimeout = 15*time.Minute + 30*time.Second

// Error codes of an fn act, beside those that pass through unchanged from
// the registry (fn.CodeNotFound, fn.CodeVersionNotFound,
// fn.CodeAliasNotFound, fn.CodeInvalidName) and from the environments
// (lambda.CodeTimeout, lambda.CodeOutOfMemory, lambda.CodeExited,
// lambda.CodeInitFailed, lambda.CodeResponseTooLarge,
// lambda.CodeRequestTooLarge, lambda.CodeCanceled). Every error a worker
// returns is a *stoa.Error carrying one, so errors.Is matches it on either
// side of the mesh.
const (
	CodeFunctionError = "fn_error"       // the function ran and failed (Lambda's "Unhandled")
	CodeThrottled     = "fn_throttled"   // every environment stayed busy until the act's deadline
	CodeUnavailable   = "fn_unavailable" // the worker is shutting down, or the registry cannot be read
)

// Sentinel errors for errors.Is, one per code of this package.
var (
	ErrFunctionError = &stoa.Error{Code: CodeFunctionError, Message: "the function failed"}
	ErrThrottled     = &stoa.Error{Code: CodeThrottled, Message: "every environment is busy"}
	ErrUnavailable   = &stoa.Error{Code: CodeUnavailable, Message: "the worker cannot serve"}
)

// Registry is what a worker needs of the function registry; *fn.Registry
// has it. Resolve is called at the start of every invocation, so that an
// update is seen by the very next one (a *fn.Registry is read through an
// fn.Cache on the worker's Conn instead, which sees updates as soon); Code fetches a version's code once
// per worker; Watch tells the worker when latest or an alias moves, so
// that it can pre-warm the new target and retire what nothing points at.
type Registry interface {
	Resolve(ctx context.Context, name, qualifier string) (*fn.Version, error)
	Code(ctx context.Context, v *fn.Version, dir string) error
	Watch(ctx context.Context) (<-chan fn.Event, error)
}

var _ Registry = (*fn.Registry)(nil)

// cacher is a Registry that can keep a resolve cache on the worker's
// connection; *fn.Registry can. With one, an invocation reads nothing from
// the registry while its function is unchanged (see fn.Cache).
type cacher interface {
	NewCache(ctx context.Context, nc *nats.Conn) (*fn.Cache, error)
}

var _ cacher = (*fn.Registry)(nil)

// Request is the message of an fn act:
//
//	{"fn": "hello", "qualifier": "3", "payload": {"name": "Ada"}}
//
// Fn names the function. Qualifier picks the version: "" or "latest" for
// the newest, a version number (a string or a number), or an alias.
// Payload is the event the function receives, unchanged; none means {}.
type Request struct {
	Fn        string          `json:"fn"`
	Qualifier string          `json:"qualifier,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// UnmarshalJSON reads a request whose qualifier may be a JSON number.
func (r *Request) UnmarshalJSON(b []byte) error {
	var raw struct {
		Fn        any             `json:"fn"`
		Qualifier json.RawMessage `json:"qualifier"`
		Payload   json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	name, ok := raw.Fn.(string)
	if !ok {
		return fmt.Errorf("fn must be a function name, got %v", raw.Fn)
	}
	*r = Request{Fn: name, Payload: raw.Payload}
	if q := raw.Qualifier; len(q) > 0 && string(q) != "null" {
		var s string
		if err := json.Unmarshal(q, &s); err != nil {
			n, err := strconv.Atoi(string(q))
			if err != nil {
				return fmt.Errorf("qualifier must be a version number or an alias, got %s", q)
			}
			s = strconv.Itoa(n)
		}
		r.Qualifier = s
	}
	return nil
}

// Reply is the answer to an fn act when the function succeeded:
//
//	{"version": 3, "requestId": "…", "payload": {"message": "Hello Ada"}}
//
// Payload is the function's response when it is JSON; a response that is
// not JSON comes base64-encoded in PayloadBase64 instead; an empty
// response has neither. Cold is set when the invocation waited for a new
// environment to start.
type Reply struct {
	Version       int             `json:"version"`
	RequestID     string          `json:"requestId"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 []byte          `json:"payloadBase64,omitempty"`
	Cold          bool            `json:"cold,omitempty"`
}

// Worker serves the functions of a registry on the mesh: every act
// matching fn:* that reaches it runs in an execution environment of the
// function version its qualifier names. Workers on one mesh share the
// acts: NATS gives each to one of them.
//
// Set the fields, then call Start; they may not change after that. The
// zero value of each optional field says what it does.
type Worker struct {
	// Conn is the NATS connection to serve on, read the registry through
	// and publish logs on. Required; the worker never closes it. It should
	// use Stoa's connection settings (mesh.Options).
	Conn *nats.Conn
	// Registry is the function registry. Required.
	Registry Registry

	// Name is the worker's node name on the mesh; "" means "stoa-worker".
	Name string
	// Dir keeps the code of the versions the worker runs; "" means a new
	// temporary directory, removed by Close.
	Dir string
	// EnvDir is lambda.Config.Dir for the environments; "" means the
	// lambda package's default, which workers on one host should share.
	EnvDir string
	// Region is AWS_REGION inside functions; "" means "us-east-1".
	Region string
	// IdleTimeout is how long an environment stays warm without an
	// invocation; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// LogMaxAge and LogMaxBytes bound the log stream (LogStream), which
	// Start creates or updates; 0 means DefaultLogMaxAge and
	// DefaultLogMaxBytes.
	LogMaxAge   time.Duration
	LogMaxBytes int64
	// MeshOptions are added to the options the worker joins the mesh with
	// (its connection, pin and name), e.g. mesh.WithRegisterer.
	MeshOptions []mesh.Option
	// Logger receives the worker's own log; nil means none.
	Logger *slog.Logger

	log     *slog.Logger
	resolve func(ctx context.Context, name, qualifier string) (*fn.Version, error)
	cache   *fn.Cache // nil unless Registry is a cacher
	unspare func()    // lets go of the spare sandbox held for cold starts
	dir     string
	tempDir bool
	engine  *stoa.Engine
	node    *mesh.Node
	bg      sync.WaitGroup     // environments closing, pre-warms, the watch and the reaper
	bgCtx   context.Context    // ends when the worker closes
	bgStop  context.CancelFunc // ends bgCtx

	// changed is closed and replaced when the pools change, if watched
	// says someone waits on it (tests, through export_test.go); so the
	// invocation path pays one atomic load for it.
	changedMu sync.Mutex
	changed   chan struct{}
	watched   atomic.Bool

	mu    sync.Mutex
	state int // stateNew, stateRunning, stateClosed
	pools map[string]*pool
	funcs map[string]*fn.Function // as last seen by the watch

	closeOnce sync.Once
	closeErr  error
}

const (
	stateNew = iota
	stateRunning
	stateClosed
)

// Start checks the fields, creates the log stream, starts watching the
// registry and joins the mesh, serving Pattern. It returns once the worker
// takes acts. ctx bounds only the start.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.state != stateNew {
		w.mu.Unlock()
		return errors.New("fn/worker: Start called twice")
	}
	w.state = stateRunning
	w.pools = map[string]*pool{}
	w.funcs = map[string]*fn.Function{}
	w.mu.Unlock()
	if w.Conn == nil || w.Registry == nil {
		return errors.New("fn/worker: Worker needs Conn and Registry")
	}
	w.log = w.Logger
	if w.log == nil {
		w.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w.bgCtx, w.bgStop = context.WithCancel(context.Background())
	fail := func(err error) error {
		w.Close()
		return err
	}

	w.dir = w.Dir
	if w.dir == "" {
		d, err := os.MkdirTemp("", "stoa-worker-")
		if err != nil {
			return fail(err)
		}
		w.dir, w.tempDir = d, true
	} else if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return fail(err)
	}
	js, err := jetstream.New(w.Conn)
	if err != nil {
		return fail(err)
	}
	maxAge, maxBytes := w.LogMaxAge, w.LogMaxBytes
	if maxAge <= 0 {
		maxAge = DefaultLogMaxAge
	}
	if maxBytes <= 0 {
		maxBytes = DefaultLogMaxBytes
	}
	if err := ensureLogStream(ctx, js, maxAge, maxBytes); err != nil {
		return fail(err)
	}

	w.resolve = w.Registry.Resolve
	if c, ok := w.Registry.(cacher); ok {
		// Before joining the mesh: the cache must hear every write that
		// an act arriving on Conn could have been sent after.
		cache, err := c.NewCache(ctx, w.Conn)
		if err != nil {
			return fail(fmt.Errorf("fn/worker: resolve cache: %w", err))
		}
		w.cache, w.resolve = cache, cache.Resolve
	}
	// A prepared sandbox for the next cold start, even from zero
	// environments (functions with another TmpMB get theirs while they run).
	w.unspare = lambda.HoldSpare(w.EnvDir, 0)
	w.goBackground(w.watch)
	w.goBackground(w.reaper)

	w.engine = stoa.New(stoa.WithLogger(w.log), stoa.WithTimeout(MaxTimeout))
	if err := w.engine.Add(Pattern, stoa.Handle(w.Invoke)); err != nil {
		return fail(err)
	}
	name := w.Name
	if name == "" {
		name = "stoa-worker"
	}
	opts := append([]mesh.Option{mesh.WithConn(w.Conn), mesh.WithPins(Pattern), mesh.WithName(name), mesh.WithLogger(w.log)}, w.MeshOptions...)
	node, err := mesh.Join(ctx, w.engine, opts...)
	if err != nil {
		return fail(err)
	}
	w.node = node
	return nil
}

// Ready reports whether the worker takes acts: what /readyz answers.
func (w *Worker) Ready() error {
	w.mu.Lock()
	state := w.state
	w.mu.Unlock()
	switch {
	case state != stateRunning || w.node == nil:
		return errors.New("fn/worker: not running")
	case !w.Conn.IsConnected():
		return errors.New("fn/worker: not connected to NATS")
	}
	return nil
}

// Invoke runs one invocation: it resolves the request's qualifier in the
// registry, takes an environment of that version (warm, new, or the first
// to come free before ctx ends), and returns the function's reply. Every
// error is a *stoa.Error with one of this package's codes or lambda's; a
// function's own failure has CodeFunctionError, with the error body
// Lambda would answer in Details["payload"]. The act handler of fn:* calls
// Invoke; in-process callers may call it directly (a registry change they
// made themselves is seen at once if they made it on the worker's Conn;
// through another connection, once a message sent after it reached Conn).
func (w *Worker) Invoke(ctx context.Context, req Request) (*Reply, error) {
	if req.Fn == "" {
		return nil, &stoa.Error{Code: stoa.CodeInvalidMsg, Pattern: Pattern, Message: "fn: the message names no function"}
	}
	v, err := w.resolve(ctx, req.Fn, req.Qualifier)
	if err != nil {
		return nil, resolveError(req, err)
	}
	_, notNumber := strconv.Atoi(req.Qualifier)
	p, err := w.hold(v, notNumber == nil)
	if err != nil {
		return nil, err
	}
	defer w.unhold(p)
	payload := []byte(req.Payload)
	if len(payload) == 0 {
		payload = []byte("{}") // as Lambda does for an invoke without a payload
	}
	if len(payload) > lambda.MaxPayload { // refused before any environment starts for it
		err := &lambda.Error{Code: lambda.CodeRequestTooLarge, Type: lambda.ErrRequestTooLarge.Type,
			Message: fmt.Sprintf("request payload of %d bytes is over the limit of %d bytes", len(payload), lambda.MaxPayload)}
		p.count(false, err)
		return nil, invokeError(v, nil, err)
	}
	for try := 0; ; try++ {
		e, cold, err := p.acquire(ctx)
		if err != nil {
			p.count(cold, err)
			return nil, invokeError(v, nil, err)
		}
		res, err := e.Invoke(ctx, payload, lambda.InvokeOpts{})
		p.release(e)
		if err != nil && errIsDead(err) && try < 3 {
			continue // the payload never reached the function: another environment may take it
		}
		if err == nil && res.FunctionError != "" {
			err = ErrFunctionError
		}
		p.count(cold, err)
		if err != nil {
			return nil, invokeError(v, res, err)
		}
		r := &Reply{Version: v.Number, RequestID: res.RequestID, Cold: cold}
		switch {
		case len(res.Payload) == 0:
		case json.Valid(res.Payload):
			r.Payload = res.Payload
		default:
			r.PayloadBase64 = res.Payload
		}
		return r, nil
	}
}

// hold returns v's pool, making it if needed, and counts the invocation
// as its user until unhold, so that the reaper leaves it in place.
// explicit says the qualifier named the version by number: a retired pool
// keeps its environments warm again.
func (w *Worker) hold(v *fn.Version, explicit bool) (*pool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != stateRunning {
		return nil, errClosed(v)
	}
	key := poolKey(v.Function, v.Number)
	p := w.pools[key]
	if p == nil {
		p = newPool(w, v)
		w.pools[key] = p
		w.notify()
	}
	p.users++
	if explicit {
		p.unretire()
	}
	return p, nil
}

func (w *Worker) unhold(p *pool) {
	w.mu.Lock()
	p.users--
	w.mu.Unlock()
}

// reaper closes environments idle for longer than IdleTimeout and drops
// the pools of retired versions once they are empty.
func (w *Worker) reaper(ctx context.Context) {
	idle := w.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	every := min(max(idle/4, 5*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, e := range w.reap(now.Add(-idle)) {
				w.closeEnv(e)
			}
		}
	}
}

// reap takes out the environments idle since before cutoff, removes the
// retired pools left empty, and returns the environments to close.
func (w *Worker) reap(cutoff time.Time) []*env {
	var all []*env
	var gone []*pool
	w.mu.Lock()
	for key, p := range w.pools {
		envs, empty := p.reap(cutoff)
		all = append(all, envs...)
		if empty && p.users == 0 && p.isRetired() {
			delete(w.pools, key)
			gone = append(gone, p)
		}
	}
	w.mu.Unlock()
	for _, p := range gone {
		p.removeCode()
	}
	w.notify()
	return all
}

func (p *pool) isRetired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retired
}

// CloseIdle closes every idle environment now, as the reaper would after
// IdleTimeout, and returns once they are gone: the next invocation of
// each version starts cold. Busy environments are left alone.
func (w *Worker) CloseIdle() {
	var wg sync.WaitGroup
	for _, e := range w.reap(time.Now().Add(time.Hour)) {
		wg.Go(e.close)
	}
	wg.Wait()
}

// PoolStats counts what one function version did on this worker.
type PoolStats struct {
	Function    string `json:"function"`
	Version     int    `json:"version"`
	Concurrency int    `json:"concurrency"` // environments at most
	Envs        int    `json:"envs"`        // live now: starting, busy or idle
	Idle        int    `json:"idle"`        // warm and waiting
	Retired     bool   `json:"retired,omitempty"`

	Invocations int64 `json:"invocations"`
	ColdStarts  int64 `json:"coldStarts"` // invocations that waited for a new environment
	WarmStarts  int64 `json:"warmStarts"` // invocations that found one warm
	Errors      int64 `json:"errors"`
	Started     int64 `json:"started"`     // environments started
	StartErrors int64 `json:"startErrors"` // starts that failed (init errors)
	Prewarmed   int64 `json:"prewarmed"`   // started ahead of invocations, after latest or an alias moved
	Discarded   int64 `json:"discarded"`   // closed because they crashed, timed out or ran out of memory
	Reaped      int64 `json:"reaped"`      // closed after IdleTimeout, or on retirement
	Waited      int64 `json:"waited"`      // invocations that found every environment busy
	Throttled   int64 `json:"throttled"`   // of those, the ones whose deadline came first
}

// Stats returns the counts of every pool the worker has, by function and
// version.
func (w *Worker) Stats() []PoolStats {
	w.mu.Lock()
	ps := slices.Collect(maps.Values(w.pools))
	w.mu.Unlock()
	out := make([]PoolStats, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.snapshot())
	}
	slices.SortFunc(out, func(a, b PoolStats) int {
		if c := strings.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out
}

// goBackground runs f on a goroutine that Close waits for; f's context
// ends when the worker closes.
func (w *Worker) goBackground(f func(ctx context.Context)) {
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		f(w.bgCtx)
	}()
}

// notify wakes whoever waits for a change of the pools (see export_test.go).
// It takes only changedMu, so any lock may be held.
func (w *Worker) notify() {
	if !w.watched.Load() {
		return
	}
	w.changedMu.Lock()
	if w.watched.Swap(false) {
		close(w.changed)
		w.changed = make(chan struct{})
	}
	w.changedMu.Unlock()
}

// Shutdown stops the worker gracefully: it leaves the mesh (NATS sends new
// acts to the other workers), lets the invocations in flight finish on the
// versions they began on, then closes every environment. If ctx ends
// first, the rest is cut short as by Close.
func (w *Worker) Shutdown(ctx context.Context) error {
	var err error
	if w.node != nil {
		err = w.node.Close(ctx)
	}
	return errors.Join(err, w.Close())
}

// Close stops the worker at once: it leaves the mesh without waiting,
// closes every environment (invocations in flight fail), and removes its
// temporary files. Calling it again returns the first result.
func (w *Worker) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.close() })
	return w.closeErr
}

func (w *Worker) close() error {
	w.mu.Lock()
	w.state = stateClosed
	pools := slices.Collect(maps.Values(w.pools))
	w.pools = map[string]*pool{}
	w.mu.Unlock()
	var errs []error
	if w.node != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.node.Close(ctx)
	}
	if w.bgStop != nil {
		w.bgStop()
	}
	for _, p := range pools {
		p.closeAll()
	}
	w.bg.Wait()
	if w.unspare != nil {
		w.unspare() // waits until the spare is gone
	}
	for _, p := range pools {
		p.removeCode()
	}
	if w.engine != nil {
		w.engine.Close(context.Background())
	}
	if w.cache != nil {
		w.cache.Close()
	}
	if w.tempDir {
		if err := os.RemoveAll(w.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
