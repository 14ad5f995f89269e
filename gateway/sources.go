package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// FunctionSource gives the routes functions declare (fn.Config.Routes),
// as Routes with Function set: the function registry, or a fake in tests.
type FunctionSource interface {
	// WatchRoutes calls set with every function-declared route, once at
	// once and again after each change, until ctx ends; then it returns
	// ctx's error. It returns another error if it cannot watch; the server
	// then logs it and watches again.
	WatchRoutes(ctx context.Context, set func([]Route)) error
}

// routeState is what a route keeps across rebuilds of the table: its
// token bucket.
type routeState struct {
	limit   RateLimit
	limiter *rate.Limiter
}

// Start loads the routes of Store and Functions and starts watching them,
// returning once both have given their routes, or with the first error, or
// when ctx ends. Serve calls it if it has not been called; call it first to
// bound the wait or to see its error before serving. The watchers run until
// Shutdown or Close. Calling Start again returns the first result.
func (s *Server) Start(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.startOnce.Do(func() { s.startErr = s.start(ctx) })
	return s.startErr
}

func (s *Server) start(ctx context.Context) error {
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	var loads []<-chan error
	if s.Store != nil {
		loads = append(loads, s.watch(wctx, "route store", func(ctx context.Context, first func()) error {
			return s.Store.Watch(ctx, func(rs []Route, rev uint64, err error) {
				if err != nil {
					s.log.Error("gateway: the route store holds routes that do not decode; keeping the last good ones", "err", err)
					s.setStoredRev(rev)
				} else {
					s.setRoutes(&s.stored, rs, "store", rev)
				}
				first()
			})
		}))
	}
	functions := s.Functions
	if functions == nil && s.Registry != nil {
		functions = RegistryRoutes(s.Registry)
	}
	if functions != nil {
		loads = append(loads, s.watch(wctx, "function routes", func(ctx context.Context, first func()) error {
			return functions.WatchRoutes(ctx, func(rs []Route) {
				s.setRoutes(&s.fnRoutes, rs, "", 0)
				first()
			})
		}))
	}
	s.watchingStore.Store(s.Store != nil)
	for _, l := range loads {
		var err error
		select {
		case err = <-l:
		case <-ctx.Done():
			err = fmt.Errorf("gateway: loading routes: %w", ctx.Err())
		}
		if err != nil {
			cancel() // a failed Start leaves nothing running
			s.watchers.Wait()
			s.watchingStore.Store(false)
			return err
		}
	}
	s.ready.Store(true)
	return nil
}

// watch runs a watcher until wctx ends, again after each failure (after a
// pause that doubles up to 30 s). The channel it returns gets nil when the
// watcher has first given its routes, or the error of its first try.
func (s *Server) watch(wctx context.Context, what string, run func(ctx context.Context, first func()) error) <-chan error {
	loaded := make(chan error, 1)
	var once sync.Once
	first := func() { once.Do(func() { loaded <- nil }) }
	s.watchers.Go(func() {
		pause := 250 * time.Millisecond
		for try := 0; ; try++ {
			err := run(wctx, first)
			if wctx.Err() != nil {
				return
			}
			if try == 0 {
				once.Do(func() { loaded <- err })
			}
			s.log.Warn("gateway: watching "+what+" failed; watching again", "err", err, "in", pause)
			select {
			case <-wctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, 30*time.Second)
		}
	})
	return loaded
}

// setRoutes replaces one source's routes and rebuilds the table; rev, if
// not 0, is the store revision the routes are.
func (s *Server) setRoutes(dst *[]Route, rs []Route, source string, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.storedRev {
		s.storedRev = rev
	}
	c := make([]Route, len(rs))
	for i, r := range rs {
		if source != "" {
			r.Source = source
		} else if r.Source == "" {
			r.Source = "function:" + r.Function
		}
		c[i] = r
	}
	*dst = c
	s.rebuildLocked()
}

// setStoredRev records a store revision that brought no usable routes,
// and wakes the waiters.
func (s *Server) setStoredRev(rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.storedRev {
		s.storedRev = rev
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// awaitStored waits until this gateway's table has taken the store's
// revision rev (or a later one), so that the gateway that made a change
// routes by it when the change's call returns. It waits only while the
// store is being watched, and at most routesSettleTimeout.
func (s *Server) awaitStored(ctx context.Context, rev uint64) {
	if !s.watchingStore.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, routesSettleTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		done, changed := s.storedRev >= rev, s.changed
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			s.log.Warn("gateway: a route change did not reach this gateway in time", "revision", rev, "err", ctx.Err())
			return
		}
	}
}

func (s *Server) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rebuildLocked()
}

// rebuildLocked builds the table from the three sources, in precedence
// order, keeps each route's token bucket if its limit is unchanged, swaps
// the table in and tells the waiters.
func (s *Server) rebuildLocked() {
	static := make([]Route, len(s.Routes))
	for i, r := range s.Routes {
		r.Source = "static"
		static[i] = r
	}
	t := buildTable(static, s.stored, s.fnRoutes)
	states := make(map[string]*routeState, len(t.entries))
	for _, e := range t.entries {
		if e.RateLimit == nil {
			continue
		}
		st := s.states[e.Key()]
		if st == nil || st.limit != *e.RateLimit {
			burst := e.RateLimit.Burst
			if burst == 0 {
				burst = max(1, int(e.RateLimit.Rate+0.999999))
			}
			st = &routeState{limit: *e.RateLimit, limiter: rate.NewLimiter(rate.Limit(e.RateLimit.Rate), burst)}
		}
		e.state = st
		states[e.Key()] = st
	}
	s.states = states
	old := s.tab.Swap(t)
	for _, c := range t.skipped {
		if old == nil || !slices.ContainsFunc(old.skipped, func(o Conflict) bool { return o.Error == c.Error }) {
			s.log.Warn("gateway: route left out", "route", c.Route.Key(), "source", c.Route.Source, "err", c.Error)
		}
	}
	s.met.routes.Set(float64(len(t.entries)))
	s.met.conflicts.Set(float64(len(t.skipped)))
	close(s.changed)
	s.changed = make(chan struct{})
}

// RoutesInEffect lists the routes the gateway routes by now, sorted by
// key, each with its Source.
func (s *Server) RoutesInEffect() []Route {
	if s.init() != nil {
		return nil
	}
	return s.tab.Load().routes()
}

// Conflicts lists the routes left out of the table because a route of
// higher precedence holds their key or their shape: a function declaring a
// route that the store already has, say.
func (s *Server) Conflicts() []Conflict {
	if s.init() != nil {
		return nil
	}
	return slices.Clone(s.tab.Load().skipped)
}
