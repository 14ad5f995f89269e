package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/stoahttp"
	"golang.org/x/time/rate"
)

// Defaults the zero values of Server stand for.
const (
	DefaultAddr  = ":8080"
	DefaultStage = "latest" // claudia's stage, which its apps see in requestContext.stage
	// DefaultTimeout bounds an act or an invocation when its route sets no
	// timeout: API Gateway's integration timeout.
	DefaultTimeout = 29 * time.Second
	// DefaultMaxBodyBytes caps a request body: Lambda's 6 MB synchronous
	// payload limit, as stoahttp caps an act.
	DefaultMaxBodyBytes = stoahttp.DefaultMaxBodyBytes
	// Header, read, write and idle timeouts, as stoahttp's listener has them.
	DefaultReadHeaderTimeout = stoahttp.DefaultReadHeaderTimeout
	DefaultReadTimeout       = stoahttp.DefaultReadTimeout
	DefaultWriteTimeout      = stoahttp.DefaultWriteTimeout
	DefaultIdleTimeout       = stoahttp.DefaultIdleTimeout

	// StartTimeout bounds the Start that Serve makes when none was made.
	StartTimeout = 30 * time.Second

	maxHeaderBytes = 64 << 10
)

// ErrServerClosed is what Serve and ListenAndServe return after Shutdown
// or Close.
var ErrServerClosed = errors.New("gateway: server closed")

// Server is the gateway: an HTTP server that routes requests to functions
// and act patterns on an engine (joined to the mesh, so that every pin of
// the mesh answers), with a management API. Set its fields, then call
// Start (or let Serve call it) and Serve or ListenAndServe; the fields must
// not change after that. The zero value of each field but Engine is usable.
type Server struct {
	// Engine answers the acts of act routes and invokes functions (the act
	// fn:NAME, which function workers serve). Required; Shutdown does not
	// close it. Its timeout (stoa.WithTimeout) caps every route's.
	Engine *stoa.Engine

	// Addr is the address ListenAndServe listens on; "" means DefaultAddr
	// (":8080").
	Addr string

	// Routes are always in effect, before those of Store and Functions: a
	// stored or function route with the key or shape of one of them is left
	// out (and listed by Conflicts).
	Routes []Route

	// Store, if set, holds the routes the management API and routes files
	// add, shared with every gateway of the mesh: changes take effect on
	// each without a restart. Nil means the management API cannot change
	// routes (it answers 503).
	Store *Store

	// Functions, if set, gives the routes functions declare in their
	// configuration, kept up to date as functions change. They come after
	// Routes and Store's. Nil means RegistryRoutes(Registry) when Registry
	// is set, else none.
	Functions FunctionSource

	// Registry, if set, is the function registry behind the management
	// API's function endpoints (create, update, versions, aliases, delete);
	// nil makes them answer 503. Invoking needs no registry: it goes through
	// the mesh, as function routes do.
	Registry *fn.Registry

	// Token is the bearer token the management API (under APIPrefix)
	// requires, compared in constant time. "" turns the API off: its paths
	// answer 404, except the OpenAPI document.
	Token string

	// Stage is the stage name events carry (requestContext.stage, and the
	// first segment of requestContext.path in payload 1.0); "" means
	// DefaultStage ("latest").
	Stage string

	// DefaultTimeout bounds the routes that set no Timeout; 0 means
	// DefaultTimeout (29 s).
	DefaultTimeout time.Duration

	// MaxBodyBytes caps a request body; a bigger one gets 413. 0 means
	// DefaultMaxBodyBytes (6 MB); negative means no limit.
	MaxBodyBytes int64

	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout its
	// headers and body, WriteTimeout writing a reply once the route has
	// answered (the act is bounded by the route's timeout), IdleTimeout how
	// long a keep-alive connection may wait for its next request. 0 means
	// the Default… constant of that name; negative means none.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// ShutdownDelay is how long Shutdown keeps serving, with /readyz already
	// answering 503, before it closes the listener: the time a load balancer
	// (a Kubernetes Service) takes to stop sending new requests. 0 means
	// none, for when a preStop hook waits instead.
	ShutdownDelay time.Duration

	// Metrics is the Prometheus registry /metrics serves, to which the
	// server adds its own metrics; nil means a registry of the server's own,
	// with the Go and process collectors.
	Metrics *prometheus.Registry

	// Logger receives a line for every error reply (with its request id) and
	// for route changes; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	initErr error
	hs      *http.Server
	log     *slog.Logger
	met     *metrics
	api     http.Handler
	idBase  string
	seq     atomic.Uint64

	stage        string
	timeout      time.Duration
	maxBody      int64
	writeTimeout time.Duration
	tokenHash    [32]byte

	tab atomic.Pointer[table]

	mu        sync.Mutex // guards what follows
	stored    []Route
	storedRev uint64 // the store revision stored is
	fnRoutes  []Route
	changed   chan struct{}
	states    map[string]*routeState

	startOnce     sync.Once
	startErr      error
	stop          context.CancelFunc
	watchers      sync.WaitGroup
	ready         atomic.Bool
	watchingStore atomic.Bool // the store's watcher runs: changes reach the table
	draining      atomic.Bool
	drainOnce     sync.Once
	drainCh       chan struct{} // closed when draining begins
}

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

// init freezes the configuration on first use.
func (s *Server) init() error {
	s.once.Do(func() {
		if s.Engine == nil {
			s.initErr = errors.New("gateway: Server.Engine is nil")
			return
		}
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		for _, r := range s.Routes {
			if err := r.Validate(); err != nil {
				s.initErr = fmt.Errorf("Server.Routes: %w", err)
				return
			}
		}
		s.stage = orDefault(s.Stage, DefaultStage)
		s.timeout = s.DefaultTimeout
		if s.timeout <= 0 {
			s.timeout = DefaultTimeout
		}
		s.maxBody = s.MaxBodyBytes
		if s.maxBody == 0 {
			s.maxBody = DefaultMaxBodyBytes
		}
		s.writeTimeout = timeout(s.WriteTimeout, DefaultWriteTimeout)
		if s.Token != "" {
			s.tokenHash = hashToken(s.Token)
		}
		s.idBase = randomHex(6) + "-"
		s.met = newMetrics(s.Metrics)
		s.changed = make(chan struct{})
		s.drainCh = make(chan struct{})
		s.states = map[string]*routeState{}
		s.api = s.newAPI()
		s.rebuild()
		s.hs = &http.Server{
			Handler:           http.HandlerFunc(s.serve),
			ReadHeaderTimeout: timeout(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			ReadTimeout:       timeout(s.ReadTimeout, DefaultReadTimeout),
			IdleTimeout:       timeout(s.IdleTimeout, DefaultIdleTimeout),
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	})
	return s.initErr
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
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

// ListenAndServe listens on Addr and serves until Shutdown or Close, then
// returns ErrServerClosed.
func (s *Server) ListenAndServe() error {
	if err := s.init(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", orDefault(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown or Close, then returns ErrServerClosed;
// it closes ln. It calls Start first if it has not been called, giving it
// StartTimeout.
func (s *Server) Serve(ln net.Listener) error {
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops the gateway gracefully: /readyz answers 503 at once;
// after ShutdownDelay the listeners close, requests in flight finish and
// are answered, idle connections close; then the route watchers stop. If ctx ends first,
// every connection is closed (which cancels the requests still running)
// and ctx's error is returned. Shutdown does not close the Engine.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.beginDrain()
	if s.ShutdownDelay > 0 {
		t := time.NewTimer(s.ShutdownDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	s.stopWatchers()
	return err
}

// Close stops the gateway at once: every connection closes, which cancels
// the requests in flight.
func (s *Server) Close() error {
	if err := s.init(); err != nil {
		return err
	}
	s.beginDrain()
	err := s.hs.Close()
	s.stopWatchers()
	return err
}

func (s *Server) beginDrain() {
	s.draining.Store(true)
	s.drainOnce.Do(func() { close(s.drainCh) })
}

func (s *Server) stopWatchers() {
	s.startOnce.Do(func() { s.startErr = ErrServerClosed })
	s.watchingStore.Store(false)
	if s.stop != nil {
		s.stop()
	}
	s.watchers.Wait()
}

// Ready reports whether the gateway should get traffic: nil once Start has
// loaded the routes, an error before that and once Shutdown has begun.
// /readyz answers with it.
func (s *Server) Ready() error {
	switch {
	case s.draining.Load():
		return errors.New("draining")
	case !s.ready.Load():
		return errors.New("routes not loaded yet")
	}
	return nil
}

// ServeHTTP serves a request as Serve does, for mounting the gateway in
// another server (whose own limits and timeouts then apply). Routes come
// from Store and Functions only once Start has been called.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.serve(w, r)
}

var (
	healthOK      = []byte(`{"status":"ok"}` + "\n")
	jsonType      = []string{"application/json"}
	bufPool       = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	maxPooledBody = 1 << 20
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == pathHealthz || p == pathLivez:
		writeJSON(w, http.StatusOK, healthOK)
		return
	case p == pathReadyz:
		if err := s.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, []byte(`{"status":`+strconv.Quote(err.Error())+"}\n"))
			return
		}
		writeJSON(w, http.StatusOK, healthOK)
		return
	case p == pathMetrics:
		s.met.handler.ServeHTTP(w, r)
		return
	}
	q := &request{r: r, id: s.newID(), start: time.Now(), stage: s.stage}
	w.Header()["X-Request-Id"] = []string{q.id}
	s.met.inFlight.Inc()
	defer s.met.inFlight.Dec()
	var route string
	var status int
	if strings.HasPrefix(r.URL.Path, "/"+reservedRoot+"/") || r.URL.Path == "/"+reservedRoot {
		route = labelAPI
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		s.api.ServeHTTP(sw, r.WithContext(withRequest(r.Context(), q)))
		status = sw.status
	} else {
		route, status = s.serveRoute(w, q)
	}
	s.met.observe(route, status, time.Since(q.start))
}

func (s *Server) newID() string {
	return s.idBase + strconv.FormatUint(s.seq.Add(1), 36)
}

// serveRoute finds the request's route and serves it, returning the route's
// key (for metrics) and the status written.
func (s *Server) serveRoute(w http.ResponseWriter, q *request) (string, int) {
	r := q.r
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		return labelNoRoute, s.fail(w, q, labelNoRoute, &httpError{status: http.StatusBadRequest, code: CodeBadRequest, message: "the path is not validly escaped"})
	}
	q.segs = segs
	t := s.tab.Load()
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && origin != "" {
		if want := r.Header.Get("Access-Control-Request-Method"); want != "" {
			if pe := t.match(strings.ToUpper(want), segs); pe != nil && pe.CORS != nil {
				return pe.key, preflight(w, pe, origin, r)
			}
		}
	}
	e := t.match(r.Method, segs)
	if e == nil {
		if allowed := t.allowed(segs); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return labelNoRoute, s.fail(w, q, labelNoRoute, &httpError{status: http.StatusMethodNotAllowed, code: CodeMethodNotAllowed, message: "Method Not Allowed"})
		}
		return labelNoRoute, s.fail(w, q, labelNoRoute, &httpError{status: http.StatusNotFound, code: CodeRouteNotFound, message: msgNotFound})
	}
	key := e.key
	if e.CORS != nil && origin != "" {
		corsHeaders(w.Header(), e.CORS, origin)
	}
	if e.state != nil && !e.state.limiter.Allow() {
		w.Header().Set("Retry-After", strconv.Itoa(int(1/e.state.limit.Rate)+1))
		return key, s.fail(w, q, key, &httpError{status: http.StatusTooManyRequests, code: CodeRateLimited, message: msgTooMany})
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bufPool.Put(buf)
		}
	}()
	if he := s.readBody(buf, r); he != nil {
		return key, s.fail(w, q, key, he)
	}
	q.body = buf.Bytes()
	// The body is in: from here the route's timeout bounds the request, not
	// ReadTimeout (net/http cancels a request's context when the
	// connection's read deadline passes).
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	q.params = e.params(segs)

	d := e.Timeout
	if d <= 0 {
		d = s.timeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	if tp := r.Header.Get("Traceparent"); tp != "" {
		ctx = stoa.WithMeta(ctx, stoa.Meta{TraceParent: tp, TraceState: r.Header.Get("Tracestate")})
	}
	if e.IsFunction() {
		return key, s.serveFunction(ctx, w, rc, q, e)
	}
	return key, s.serveAct(ctx, w, rc, q, e)
}

// readBody reads the body into buf, refusing one over the limit with 413.
func (s *Server) readBody(buf *bytes.Buffer, r *http.Request) *httpError {
	tooLarge := func() *httpError {
		return &httpError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge, message: msgTooLarge,
			err: fmt.Errorf("the body is over %d bytes", s.maxBody)}
	}
	if s.maxBody > 0 && r.ContentLength > s.maxBody {
		return tooLarge()
	}
	if r.ContentLength == 0 {
		return nil // net/http gives a body of length 0 as http.NoBody
	}
	var body io.Reader = r.Body
	if s.maxBody > 0 {
		body = io.LimitReader(r.Body, s.maxBody+1)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return &httpError{status: http.StatusBadRequest, code: CodeBadRequest, message: "could not read the request body", err: err}
	}
	if s.maxBody > 0 && int64(buf.Len()) > s.maxBody {
		return tooLarge()
	}
	return nil
}

func (s *Server) serveAct(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, q *request, e *entry) int {
	msg, err := actMessage(e, q.r, q.body, q.params)
	if err != nil {
		return s.fail(w, q, e.key, &httpError{status: http.StatusBadRequest, code: stoa.CodeInvalidJSON, message: err.Error()})
	}
	out, err := s.Engine.Act(ctx, msg)
	if err != nil {
		return s.fail(w, q, e.key, actError(ctx, err))
	}
	s.setWriteDeadline(rc)
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) serveFunction(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, q *request, e *entry) int {
	ev, err := e.event(q)
	if err != nil {
		return s.fail(w, q, e.key, &httpError{status: http.StatusInternalServerError, code: CodeBadGateway, message: msgInternal, err: err})
	}
	out, err := s.Engine.Act(ctx, functionMsg(e.Function, e.Qualifier, stoa.TrustedJSON(ev))) // made by our encoder (TestEventJSON)
	if err != nil {
		return s.fail(w, q, e.key, functionError(ctx, err))
	}
	p, err := workerReply(out, e.Format)
	if err != nil {
		return s.fail(w, q, e.key, &httpError{status: http.StatusBadGateway, code: CodeBadGateway, message: msgInternal, err: err})
	}
	h := w.Header()
	for k, vs := range p.header {
		if e.CORS != nil && strings.HasPrefix(k, "Access-Control-") && h[k] != nil {
			continue // the route's CORS policy stands over the function's
		}
		h[k] = vs
	}
	h["Content-Length"] = []string{strconv.Itoa(len(p.body))}
	s.setWriteDeadline(rc)
	w.WriteHeader(p.status)
	w.Write(p.body)
	return p.status
}

func (s *Server) setWriteDeadline(rc *http.ResponseController) {
	if s.writeTimeout > 0 {
		rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
}

// fail writes an error reply and returns its status.
func (s *Server) fail(w http.ResponseWriter, q *request, route string, e *httpError) int {
	s.writeError(w, q, route, e)
	return e.status
}

func writeJSON(w http.ResponseWriter, status int, b []byte) int {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
	return status
}

// statusWriter records the status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestKey struct{}

func withRequest(ctx context.Context, q *request) context.Context {
	return context.WithValue(ctx, requestKey{}, q)
}

func requestOf(r *http.Request) *request {
	q, _ := r.Context().Value(requestKey{}).(*request)
	return q
}
