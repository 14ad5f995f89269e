package stoahttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/valyala/fasthttp"
)

// Seneca's defaults, which the zero values of Server and the client use.
const (
	DefaultAddr = ":10101" // seneca-transport listens on 0.0.0.0:10101
	DefaultPath = "/act"
	DefaultURL  = "http://127.0.0.1:10101/act" // where a Seneca client sends by default
)

// Limits and timeouts the zero values of Server stand for.
const (
	DefaultMaxBodyBytes      = 6 << 20 // 6 MB: Lambda's synchronous payload limit
	DefaultMaxDepth          = 64      // nesting of objects and arrays in a message
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second

	// maxHeaderBytes caps a request's line and headers, as Node's default
	// --max-http-header-size does (so a Seneca listener's): the listener's
	// read buffer holds them whole, one per connection.
	maxHeaderBytes = 16 << 10
	maxDepthLimit  = 10000 // encoding/json refuses deeper input

	// idleWorkers is how long a listener goroutine whose connection has
	// ended waits for the next one before it exits.
	idleWorkers = time.Second

	// forever stands for "no timeout" where the HTTP layer takes 0 to mean
	// a default.
	forever = 100 * 365 * 24 * time.Hour
)

// Codes of the errors the listener answers with before any act runs; the
// others are the engine's (stoa.CodeInvalidJSON for a body that is not a
// JSON object, stoa.CodeMsgSyntax for a msg$ that does not parse).
const (
	CodeTooLarge   = "msg_too_large"   // the body is over Server.MaxBodyBytes: 413
	CodeNotAllowed = "act_not_allowed" // a system message from a remote caller: 403
)

// ErrServerClosed is what Serve and ListenAndServe return once Close has
// been called.
var ErrServerClosed = errors.New("stoahttp: server closed")

// Server is the listener: it serves one engine's patterns over HTTP/1.1 as
// Seneca's listen() does, on Seneca's wire (see the package doc). Set its
// fields, then call ListenAndServe or Serve; the fields must not change
// after that. A Server is also an http.Handler, for mounting in a net/http
// server, though the limits on headers and the timeouts then are that
// server's.
type Server struct {
	// Engine answers the acts. Required. Close does not close it.
	Engine *stoa.Engine

	// Addr is the TCP address ListenAndServe listens on; "" means
	// DefaultAddr (":10101", all interfaces, as Seneca).
	Addr string

	// Path is where acts are served; "" means DefaultPath ("/act"). Any
	// method is accepted there, as Seneca does.
	Path string

	// MaxBodyBytes caps a request body; a bigger one gets 413. 0 means
	// DefaultMaxBodyBytes (6 MB); a negative value means no limit.
	MaxBodyBytes int64

	// MaxDepth caps how deeply the objects and arrays of a message nest; a
	// deeper one gets 400. 0 means DefaultMaxDepth (64); the most is 10000.
	MaxDepth int

	// ReadHeaderTimeout bounds reading a request's line and headers,
	// ReadTimeout its body, WriteTimeout writing the reply once the act is
	// done (the act itself is bounded by its own deadline), and IdleTimeout
	// how long a keep-alive connection may wait for its next request. 0
	// means the Default… constant of the same name; a negative value means
	// none.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// AllowSystem serves system messages to remote callers: those whose
	// role is seneca, transport, options or mesh, or that have a sys key,
	// and the fatal$ directive. By default (false) system messages get 403
	// and fatal$ is removed from every message, so that no remote caller can
	// stop or reconfigure a service, nor one behind a client that forwards
	// to Seneca.
	AllowSystem bool

	// DisableMetrics turns off /metrics (Prometheus text format: acts by
	// pattern and outcome, and a latency histogram), which is on by default.
	DisableMetrics bool

	// DisableHealthz turns off /healthz, which by default answers 200
	// {"status":"ok"}, and 503 once Close has begun.
	DisableHealthz bool

	// Logger receives the listener's own errors, at Debug level for those
	// caused by callers; nil discards them.
	Logger *slog.Logger

	once    sync.Once
	initErr error
	fs      *fasthttp.Server
	log     *slog.Logger
	metrics *metrics
	closing atomic.Bool
	idBase  string
	seq     atomic.Uint64

	// acts is the parent of the context of every act served by Serve; it
	// is canceled when Close gives up waiting for them.
	acts       context.Context
	cancelActs context.CancelFunc

	mu     sync.Mutex // guards closed, lns and conns
	closed bool
	lns    []*serveListener
	conns  map[net.Conn]struct{}

	path     string
	maxBody  int64
	maxDepth int
	accept   []string // seneca-accept, shared by every net/http reply
}

// init freezes the configuration on first use.
func (s *Server) init() error {
	s.once.Do(func() {
		if s.Engine == nil {
			s.initErr = errors.New("stoahttp: Server.Engine is nil")
			return
		}
		if s.MaxDepth > maxDepthLimit {
			s.initErr = errors.New("stoahttp: Server.MaxDepth is over 10000")
			return
		}
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.path = or(s.Path, DefaultPath)
		s.maxBody = s.MaxBodyBytes
		if s.maxBody == 0 {
			s.maxBody = DefaultMaxBodyBytes
		}
		s.maxDepth = s.MaxDepth
		if s.maxDepth <= 0 {
			s.maxDepth = DefaultMaxDepth
		}
		s.accept = []string{s.Engine.ID()}
		s.idBase = randomID(8) + "."
		if !s.DisableMetrics {
			s.metrics = newMetrics()
		}
		s.acts, s.cancelActs = context.WithCancel(context.Background())
		s.conns = map[net.Conn]struct{}{}
		s.fs = s.newFastServer()
	})
	return s.initErr
}

// newFastServer configures the HTTP/1.1 server that Serve runs.
func (s *Server) newFastServer() *fasthttp.Server {
	maxBody := math.MaxInt
	if s.maxBody > 0 && s.maxBody < math.MaxInt {
		maxBody = int(s.maxBody)
	}
	// The header timeout bounds the wait for a new connection's first
	// request and the reading of every request's line and headers; once
	// they are in, the body gets ReadTimeout of its own.
	header := timeout(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	body := timeout(s.ReadTimeout, DefaultReadTimeout)
	idle := timeout(s.IdleTimeout, DefaultIdleTimeout)
	if body == 0 {
		body = forever
	}
	if idle == 0 {
		idle = forever // fasthttp takes 0 as "the read timeout"
	}
	fs := &fasthttp.Server{
		Handler:      s.serveFast,
		ErrorHandler: s.serveRequestError,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: body}
		},
		ExpectHandler:                s.expect,
		ConnState:                    s.connState,
		Logger:                       debugLogger{s.log},
		ReadBufferSize:               maxHeaderBytes,
		ReadTimeout:                  header,
		WriteTimeout:                 timeout(s.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:                  idle,
		MaxRequestBodySize:           maxBody,
		MaxIdleWorkerDuration:        idleWorkers,
		CloseOnShutdown:              true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
	}
	return fs
}

func or(s, def string) string {
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

// ListenAndServe listens on Addr and serves until Close, then returns
// ErrServerClosed.
func (s *Server) ListenAndServe() error {
	if err := s.init(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", or(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Close, then returns ErrServerClosed; it closes
// ln. It may be called for several listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(); err != nil {
		ln.Close()
		return err
	}
	sl := &serveListener{Listener: ln}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.lns = append(s.lns, sl)
	s.mu.Unlock()

	err := s.fs.Serve(sl)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrServerClosed
	case err == nil: // the listener was closed by someone else
		return net.ErrClosed
	}
	return err
}

// Close stops the server gracefully: it stops accepting connections and
// answers 503 on /healthz, lets the acts in flight finish and write their
// replies (with Connection: close), closes idle connections, and returns
// once no connection is left. If ctx ends first, it closes every
// connection at once, cancels the acts still running, and returns ctx's
// error. Close does not close the Engine. Calling it again waits again.
func (s *Server) Close(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.closing.Store(true)
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	if err := s.fs.ShutdownWithContext(ctx); err != nil && ctx.Err() != nil {
		// fasthttp leaves the connections it did not wait for running.
		s.cancelActs()
		s.mu.Lock()
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		return ctx.Err()
	}
	s.cancelActs() // none is left
	return nil
}

// connState tracks the open connections, for Close to end them when it
// cannot wait any longer.
func (s *Server) connState(c net.Conn, state fasthttp.ConnState) {
	switch state {
	case fasthttp.StateNew:
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// serveListener is a listener Close and the HTTP server may both close.
type serveListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *serveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

func (l *serveListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// lingerConn is a connection that, once refused (a body over the limit,
// a request that does not parse), is closed gently: the reply is
// followed by a FIN, and what the caller still sends is read and dropped
// for a while before the close. Closing a socket with unread input sends
// a reset instead, which can destroy the reply before the caller reads
// it (net/http waits in the same way).
type lingerConn struct {
	net.Conn
	linger atomic.Bool
}

// lingerTime bounds how long a refused connection is drained.
const lingerTime = 500 * time.Millisecond

func (c *lingerConn) Close() error {
	if c.linger.CompareAndSwap(true, false) {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, c.Conn)
		}
	}
	return c.Conn.Close()
}

// debugLogger passes the HTTP server's messages (a caller's malformed
// request, a connection's error) to the Logger at Debug level.
type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Printf(format string, args ...any) {
	if d.l.Enabled(context.Background(), slog.LevelDebug) {
		d.l.Debug("stoahttp: " + fmt.Sprintf(format, args...))
	}
}
