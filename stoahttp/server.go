package stoahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
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

// serveFast serves acts on Path, /healthz and /metrics; anything else is
// 404 with an empty body, as Seneca answers.
func (s *Server) serveFast(ctx *fasthttp.RequestCtx) {
	defer func() {
		// No panic is expected here (the engine recovers the handlers'),
		// but one must not take the process down.
		if r := recover(); r != nil {
			s.log.Error("stoahttp: panic serving a request", "panic", r)
			ctx.Response.Reset()
			ctx.SetStatusCode(http.StatusInternalServerError)
			ctx.SetConnectionClose()
		}
	}()
	switch p := ctx.Path(); {
	case string(p) == s.path:
		s.serveActFast(ctx)
	case string(p) == "/healthz" && !s.DisableHealthz:
		h := &ctx.Response.Header
		h.SetContentTypeBytes(jsonType)
		h.SetBytesKV(hdrCacheControl, noCacheValue)
		if s.closing.Load() {
			ctx.SetStatusCode(http.StatusServiceUnavailable)
			ctx.SetBody(healthClosing)
			return
		}
		ctx.SetBody(healthOK)
	case string(p) == "/metrics" && s.metrics != nil:
		s.metrics.fast(ctx)
	default:
		ctx.SetStatusCode(http.StatusNotFound)
	}
}

// serveActFast reads the message, acts it and writes Seneca's reply. The
// HTTP server has read and capped the body already.
func (s *Server) serveActFast(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	in := incomingFast(&ctx.Request.Header)
	if in.id == "" {
		in.id = s.newID()
	}
	var query string
	if q := ctx.URI().QueryString(); len(q) > 0 {
		query = string(q)
	}
	status, out := s.act(s.acts, &in, ctx.Request.Body(), query, start)
	s.writeFast(ctx, &in, status, out)
}

// serveRequestError answers a request the HTTP server could not read: 413
// with Seneca's error JSON for a body over the limit, and what net/http
// would answer for the rest.
func (s *Server) serveRequestError(ctx *fasthttp.RequestCtx, err error) {
	if lc, ok := ctx.Conn().(*lingerConn); ok {
		lc.linger.Store(true)
	}
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		in := incomingFast(&ctx.Request.Header)
		if in.id == "" {
			in.id = s.newID()
		}
		status, out := s.fail(time.Now(), noPattern, tooLarge(s.maxBody))
		s.writeFast(ctx, &in, status, out)
	case errors.As(err, &small):
		ctx.Error("431 Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		ctx.Error("408 Request Timeout", http.StatusRequestTimeout)
	default:
		ctx.Error("400 Bad Request", http.StatusBadRequest)
	}
}

// expect refuses a body announced (with Expect: 100-continue) to be over
// the limit before the caller sends it: 413, with no body, since the
// caller waits for the status line alone.
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	if n := ctx.Request.Header.ContentLength(); s.maxBody > 0 && int64(n) > s.maxBody {
		if s.metrics != nil {
			s.metrics.observe(noPattern, CodeTooLarge, 0)
		}
		return http.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

func (s *Server) newID() string {
	return s.idBase + strconv.FormatUint(s.seq.Add(1), 36)
}

// Reply header names and values that never change. Names are written as
// given here: a Seneca peer (Node) sends and expects them in lower case.
var (
	jsonType        = []byte("application/json")
	hdrCacheControl = []byte("Cache-Control")
	noCacheValue    = []byte("private, max-age=0, no-cache, no-store")
	hdrID           = []byte("seneca-id")
	hdrKind         = []byte("seneca-kind")
	hdrOrigin       = []byte("seneca-origin")
	hdrAccept       = []byte("seneca-accept")
	hdrTrack        = []byte("seneca-track")
	hdrClientSent   = []byte("seneca-time-client-sent")
	hdrListenRecv   = []byte("seneca-time-listen-recv")
	hdrListenSent   = []byte("seneca-time-listen-sent")
	valueRes        = []byte("res")
	valueZero       = []byte("0")
	valueUnknown    = []byte("UNKNOWN")
)

// writeFast writes an act's reply with the headers a Seneca client needs.
func (s *Server) writeFast(ctx *fasthttp.RequestCtx, in *inbound, status int, out []byte) {
	h := &ctx.Response.Header
	h.DisableNormalizing()
	ctx.SetStatusCode(status)
	h.SetContentTypeBytes(jsonType)
	h.AddBytesKV(hdrCacheControl, noCacheValue)
	h.AddBytesK(hdrID, in.id)
	h.AddBytesKV(hdrKind, valueRes)
	if in.origin != "" {
		h.AddBytesK(hdrOrigin, in.origin)
	} else {
		h.AddBytesKV(hdrOrigin, valueUnknown)
	}
	h.AddBytesK(hdrAccept, s.accept[0])
	h.AddBytesK(hdrTrack, in.track)
	h.AddBytesKV(hdrClientSent, valueZero)
	h.AddBytesKV(hdrListenRecv, valueZero)
	h.AddBytesKV(hdrListenSent, valueZero)
	ctx.Response.SetBodyRaw(out)
}

// ServeHTTP serves acts on Path, /healthz and /metrics through net/http,
// for mounting a Server in a net/http server; anything else is 404 with an
// empty body, as Seneca answers. Serve does not use it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch p := r.URL.Path; {
	case p == s.path:
		s.serveAct(w, r)
	case p == "/healthz" && !s.DisableHealthz:
		s.serveHealth(w)
	case p == "/metrics" && s.metrics != nil:
		s.metrics.handler.ServeHTTP(w, r)
	default:
		w.Header()["Content-Length"] = zero
		w.WriteHeader(http.StatusNotFound)
	}
}

var (
	healthOK      = []byte(`{"status":"ok"}`)
	healthClosing = []byte(`{"status":"closing"}`)
)

func (s *Server) serveHealth(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = contentJSON
	h["Cache-Control"] = noCache
	if s.closing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(healthClosing)
		return
	}
	w.Write(healthOK)
}

// Reply headers that never change, shared by every net/http reply
// (net/http only reads them).
var (
	contentJSON = []string{"application/json"}
	noCache     = []string{"private, max-age=0, no-cache, no-store"}
	kindRes     = []string{"res"}
	zero        = []string{"0"}
	unknown     = []string{"UNKNOWN"}
	empty       = []string{""}
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveAct is serveActFast for net/http: the act runs with the request's
// context, which net/http cancels when the caller goes away.
func (s *Server) serveAct(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	in := incoming(r)
	if in.id == "" {
		in.id = s.newID()
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	var status int
	var out []byte
	if err := s.readBody(buf, r); err != nil {
		status, out = s.fail(start, noPattern, err)
	} else {
		// The body is in: from here the act's deadline bounds the request,
		// not the server's ReadTimeout, whose passing would cancel a long
		// act's context.
		http.NewResponseController(w).SetReadDeadline(time.Time{})
		status, out = s.act(r.Context(), &in, buf.Bytes(), r.URL.RawQuery, start)
	}
	h := w.Header()
	h["Content-Type"] = contentJSON
	h["Cache-Control"] = noCache
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	h["seneca-id"] = []string{in.id}
	h["seneca-kind"] = kindRes
	if in.origin != "" {
		h["seneca-origin"] = []string{in.origin}
	} else {
		h["seneca-origin"] = unknown
	}
	h["seneca-accept"] = s.accept
	if in.track != "" {
		h["seneca-track"] = []string{in.track}
	} else {
		h["seneca-track"] = empty
	}
	h["seneca-time-client-sent"] = zero
	h["seneca-time-listen-recv"] = zero
	h["seneca-time-listen-sent"] = zero
	w.WriteHeader(status)
	if _, err := w.Write(out); err != nil {
		s.log.Debug("stoahttp: cannot write a reply", "id", in.id, "err", err)
	}
}

// readBody reads a net/http request body into buf, up to the limit.
func (s *Server) readBody(buf *bytes.Buffer, r *http.Request) error {
	if s.maxBody > 0 && r.ContentLength > s.maxBody {
		return tooLarge(s.maxBody)
	}
	var body io.Reader = r.Body
	if s.maxBody > 0 {
		body = io.LimitReader(r.Body, s.maxBody+1)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return &requestError{status: http.StatusBadRequest, err: &stoa.Error{
			Code: stoa.CodeInvalidJSON, Message: "could not read the request body: " + err.Error()}}
	}
	if s.maxBody > 0 && int64(buf.Len()) > s.maxBody {
		return tooLarge(s.maxBody)
	}
	return nil
}

// noPattern labels metrics of acts that no pattern answered.
const noPattern = "(none)"

// act decodes the message of a request, acts it and returns the reply's
// status and body, recording the outcome in the metrics. ctx is the
// parent of the act's context.
func (s *Server) act(ctx context.Context, in *inbound, body []byte, query string, start time.Time) (int, []byte) {
	// A message that is the body as it came is acted as that JSON, as the
	// mesh acts what it receives: the engine decodes it (faster than
	// encoding/json) and a typed handler's input straight from it, where
	// from a Msg it would encode the Msg first and decode that. If nothing
	// in the body can be a system message or fatal$ (plainBody), the
	// engine's decode is the only one, for the pattern and the act at once.
	// A body that is not valid JSON is left to decodeMessage, whose error
	// is the listener's 400.
	var raw json.RawMessage
	if query == "" {
		if b := trimSpace(body); len(b) > 0 && b[0] == '{' {
			raw = b
		}
	}
	if raw != nil && plainBody(raw) && !nestsDeeper(raw, s.maxDepth) {
		out, pattern, err := s.actPattern(ctx, in, raw)
		if !undecoded(pattern, err) {
			return s.reply(start, out, pattern, err)
		}
	}

	msg, err := decodeMessage(body, query, s.maxDepth)
	if err != nil {
		return s.fail(start, noPattern, err)
	}
	if !s.AllowSystem {
		if isSystem(msg) {
			return s.fail(start, noPattern, notAllowed(msg))
		}
		if _, ok := msg["fatal$"]; ok {
			delete(msg, "fatal$")
			raw = nil
		}
	}
	var m any = msg
	if raw != nil {
		m = raw
	}
	out, pattern, err := s.actPattern(ctx, in, m)
	return s.reply(start, out, pattern, err)
}

// actPattern acts m (the message, or the JSON of it) and returns the
// reply and the pattern that matched (noPattern if none did).
func (s *Server) actPattern(ctx context.Context, in *inbound, m any) (json.RawMessage, string, error) {
	if s.metrics != nil {
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
	}
	out, pattern, err := s.Engine.ActPattern(stoa.WithMeta(ctx, in.meta()), m)
	if pattern == "" {
		pattern = noPattern
	}
	return out, pattern, err
}

// undecoded reports whether an act failed because the engine could not
// decode its message: invalid_json with no pattern matched, which a
// handler's own invalid_json never is.
func undecoded(pattern string, err error) bool {
	se, ok := err.(*stoa.Error)
	return ok && se.Code == stoa.CodeInvalidJSON && pattern == noPattern
}

// reply returns an act's status and body, recording its outcome under
// pattern.
func (s *Server) reply(start time.Time, out []byte, pattern string, err error) (int, []byte) {
	if err != nil {
		return s.fail(start, pattern, err)
	}
	if s.metrics != nil {
		s.metrics.observe(pattern, "ok", time.Since(start))
	}
	return http.StatusOK, out
}

// fail turns an error into its reply: the status, and Seneca's error JSON
// with nothing of the host in it.
func (s *Server) fail(start time.Time, pattern string, err error) (int, []byte) {
	status, se := s.errorReply(err)
	b, merr := scrub(se).MarshalJSON()
	if merr != nil {
		s.log.Error("stoahttp: cannot encode an error reply", "code", se.Code, "err", merr)
		b = []byte(`{"code":"act_execute","message":"seneca: Error reply could not be encoded."}`)
	}
	if s.metrics != nil {
		s.metrics.observe(pattern, se.Code, time.Since(start))
	}
	return status, b
}

// errorReply picks the status of an error reply: the status a
// request error carries, else 500 as Seneca answers (or the statusCode the
// error's details give, between 400 and 599), 503 once the engine is
// closed.
func (s *Server) errorReply(err error) (int, *stoa.Error) {
	var re *requestError
	if errors.As(err, &re) {
		return re.status, re.err
	}
	var se *stoa.Error
	if !errors.As(err, &se) {
		se = &stoa.Error{Code: stoa.CodeExecute, Message: err.Error(), Err: err}
	}
	if se.Code == stoa.CodeClosed {
		return http.StatusServiceUnavailable, se
	}
	if code, ok := statusCode(se.Details["statusCode"]); ok {
		return code, se
	}
	return http.StatusInternalServerError, se
}

// statusCode reads an HTTP error status from a details value.
func statusCode(v any) (int, bool) {
	var n int
	switch v := v.(type) {
	case float64:
		n = int(v)
		if float64(n) != v {
			return 0, false
		}
	case int:
		n = v
	default:
		return 0, false
	}
	return n, n >= 400 && n <= 599
}
