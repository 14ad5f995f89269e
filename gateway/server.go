package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
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
	DefaultMaxBodyBytes = 6 << 20
	// Header, read, write and idle timeouts, as stoahttp's listener has
	// them (a test holds them equal; the gateway does not import stoahttp,
	// so that it does not link fasthttp).
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second

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

var healthOK = []byte(`{"status":"ok"}` + "\n")

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
	q.vals[0] = q.id
	w.Header()["X-Request-Id"] = q.vals[0:1:1]
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
	var b [32]byte // idBase (13 bytes) and a uint64 in base 36 (at most 13)
	n := copy(b[:], s.idBase)
	return string(strconv.AppendUint(b[:n], s.seq.Add(1), 36))
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
