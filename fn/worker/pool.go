package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
)

// pool holds the execution environments of one function version on this
// worker: warm ones are reused, new ones are started on demand up to the
// version's concurrency, and invocations that find every environment busy
// wait for one in arrival order. Lock order: Worker.mu, then pool.mu.
type pool struct {
	w   *Worker
	v   *fn.Version
	key string // "name:version"
	max int    // environments at most

	codeMu  sync.Mutex
	codeDir string // the version's code, extracted on the first start

	mu       sync.Mutex
	idle     []idleEnv // warm environments, least recently used first
	all      map[*env]bool
	live     int // environments starting, busy or idle
	waiters  []chan grant
	retired  bool // not the target of latest or of an alias: do not keep environments warm
	closed   bool
	users    int // invocations holding the pool; guarded by Worker.mu
	lastUsed time.Time
	stats    PoolStats
}

// idleEnv is a warm environment and when it last finished an invocation.
type idleEnv struct {
	e     *env
	since time.Time
}

// grant is what a waiting invocation is given: a warm environment, or
// leave to start one (a free place under the concurrency cap). Neither
// means the pool was closed.
type grant struct {
	e     *env
	start bool
}

func newPool(w *Worker, v *fn.Version) *pool {
	max := v.Config.Concurrency
	if max <= 0 {
		max = fn.DefaultConcurrency
	}
	return &pool{
		w: w, v: v, key: poolKey(v.Function, v.Number), max: max,
		all:   map[*env]bool{},
		stats: PoolStats{Function: v.Function, Version: v.Number, Concurrency: max},
	}
}

func poolKey(name string, version int) string { return fmt.Sprintf("%s:%d", name, version) }

// acquire returns an environment for one invocation, warm if one is idle,
// else a new one if the pool is under its cap, else the first one to come
// free before ctx ends. cold reports that the invocation paid for starting
// the environment.
func (p *pool) acquire(ctx context.Context) (e *env, cold bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, errClosed(p.v)
	}
	p.lastUsed = time.Now()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1].e
		p.idle = p.idle[:n-1]
		if e.Err() != nil { // died while idle
			p.drop(e)
			continue
		}
		p.mu.Unlock()
		p.w.notify()
		return e, false, nil
	}
	if p.live < p.max {
		p.live++
		p.mu.Unlock()
		e, err := p.start(ctx)
		return e, true, err
	}
	ch := make(chan grant, 1)
	p.waiters = append(p.waiters, ch)
	p.stats.Waited++
	p.mu.Unlock()

	select {
	case g := <-ch:
		return p.take(ctx, g)
	case <-ctx.Done():
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, ch); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.stats.Throttled++
		p.mu.Unlock()
		return nil, false, &stoa.Error{Code: CodeThrottled, Pattern: Pattern,
			Message: fmt.Sprintf("%s: all %d environments stayed busy until the act's deadline", p.key, p.max),
			Details: map[string]any{"function": p.v.Function, "version": p.v.Number}, Err: ctx.Err()}
	}
	p.mu.Unlock()
	// Granted just as ctx ended: use the grant anyway rather than lose it.
	return p.take(ctx, <-ch)
}

// take turns a grant into an environment.
func (p *pool) take(ctx context.Context, g grant) (*env, bool, error) {
	switch {
	case g.e != nil:
		return g.e, false, nil
	case g.start:
		e, err := p.start(ctx)
		return e, true, err
	}
	return nil, false, errClosed(p.v)
}

// start starts an environment in a place already counted in live; on
// failure it gives the place back.
func (p *pool) start(ctx context.Context) (*env, error) {
	e, err := p.w.startEnv(ctx, p)
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.w.notify()
	if err != nil {
		p.live--
		p.stats.StartErrors++
		p.grantStart()
		return nil, err
	}
	if p.closed { // closed while starting
		p.live--
		p.w.closeEnv(e)
		return nil, errClosed(p.v)
	}
	p.all[e] = true
	p.stats.Started++
	return e, nil
}

// release gives an environment back after an invocation: a dead one is
// closed and its place offered to a waiter; a live one goes to the first
// waiter, or is kept warm, or closed if the pool is retired.
func (p *pool) release(e *env) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.w.notify()
	p.lastUsed = time.Now()
	switch {
	case e.Err() != nil || p.closed:
		p.drop(e)
		p.grantStart()
	case len(p.waiters) > 0:
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- grant{e: e}
	case p.retired:
		p.drop(e)
	default:
		p.idle = append(p.idle, idleEnv{e, time.Now()})
	}
}

// drop closes e and frees its place. p.mu is held.
func (p *pool) drop(e *env) {
	p.live--
	if e.Err() != nil && !p.closed {
		p.stats.Discarded++
	}
	delete(p.all, e)
	p.w.closeEnv(e)
}

// grantStart lets the first waiter start an environment if there is a
// free place. p.mu is held.
func (p *pool) grantStart() {
	if p.closed || len(p.waiters) == 0 || p.live >= p.max {
		return
	}
	p.live++
	ch := p.waiters[0]
	p.waiters = p.waiters[1:]
	ch <- grant{start: true}
}

// prewarm starts up to n environments in the background, within the cap,
// so that the first invocations of a new version find them warm.
func (p *pool) prewarm(n int) {
	for range n {
		p.mu.Lock()
		if p.closed || p.live >= p.max {
			p.mu.Unlock()
			return
		}
		p.live++
		p.stats.Prewarmed++
		p.mu.Unlock()
		p.w.goBackground(func(ctx context.Context) {
			e, err := p.start(ctx)
			if err != nil {
				p.w.log.Warn("fn: pre-warm failed", "function", p.v.Function, "version", p.v.Number, "err", err)
				return
			}
			p.release(e)
		})
	}
}

// reap takes out the environments idle since before cutoff (all of them
// if the pool is retired, and any that died) and returns them for the
// caller to close; empty reports whether the pool has none left.
func (p *pool) reap(cutoff time.Time) (gone []*env, empty bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && (p.idle[n].since.Before(cutoff) || p.retired || p.idle[n].e.Err() != nil) {
		e := p.idle[n].e
		p.live--
		delete(p.all, e)
		p.stats.Reaped++
		gone = append(gone, e)
		n++
	}
	p.idle = slices.Delete(p.idle, 0, n)
	return gone, p.live == 0
}

// retire marks the pool as no longer the target of latest or of any
// alias: its idle environments close now, busy ones when they finish.
// An invocation that names the version again un-retires it (see unretire).
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	p.mu.Unlock()
	gone, _ := p.reap(time.Time{})
	for _, e := range gone {
		p.w.closeEnv(e)
	}
}

func (p *pool) unretire() {
	p.mu.Lock()
	p.retired = false
	p.mu.Unlock()
}

// closeAll closes every environment, busy ones included (their
// invocations fail), and refuses new invocations.
func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for e := range p.all {
		p.w.closeEnv(e)
	}
	clear(p.all)
	p.live -= len(p.idle)
	p.idle = nil
	for _, ch := range p.waiters {
		ch <- grant{}
	}
	p.waiters = nil
}

// snapshot returns the pool's counts.
func (p *pool) snapshot() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Envs, s.Idle, s.Retired = p.live, len(p.idle), p.retired
	return s
}

// count adds one invocation's outcome to the pool's counts.
func (p *pool) count(cold bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.w.notify()
	p.stats.Invocations++
	if cold {
		p.stats.ColdStarts++
	} else {
		p.stats.WarmStarts++
	}
	if err != nil {
		p.stats.Errors++
	}
}

func errClosed(v *fn.Version) error {
	return &stoa.Error{Code: CodeUnavailable, Pattern: Pattern,
		Message: fmt.Sprintf("%s: the worker is shutting down", poolKey(v.Function, v.Number))}
}

// errIsDead reports whether err says the environment could not take the
// invocation at all, so that trying another is safe.
func errIsDead(err error) bool {
	return errors.Is(err, lambda.ErrEnvDead) || errors.Is(err, lambda.ErrEnvBusy)
}
