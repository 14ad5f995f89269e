package stoahttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stoaproject/stoa"
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

	maxHeaderBytes = 64 << 10
	maxDepthLimit  = 10000 // encoding/json refuses deeper input
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

// Server is the listener: it serves one engine's patterns over HTTP as
// Seneca's listen() does, on Seneca's wire (see the package doc). Set its
// fields, then call ListenAndServe or Serve; the fields must not change
// after that. A Server is also an http.Handler, for mounting in another
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

	// ReadHeaderTimeout bounds reading a request's headers, ReadTimeout its
	// headers and body, WriteTimeout writing the reply once the act is done
	// (the act itself is bounded by its own deadline), and IdleTimeout how
	// long a keep-alive connection may wait for its next request. 0 means
	// the Default… constant of the same name; a negative value means none.
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
	hs      *http.Server
	log     *slog.Logger
	metrics *metrics
	closing atomic.Bool
	idBase  string
	seq     atomic.Uint64

	path         string
	maxBody      int64
	maxDepth     int
	writeTimeout time.Duration
	accept       []string // seneca-accept, shared by every reply
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
		s.writeTimeout = timeout(s.WriteTimeout, DefaultWriteTimeout)
		s.accept = []string{s.Engine.ID()}
		s.idBase = randomID(8) + "."
		if !s.DisableMetrics {
			s.metrics = newMetrics()
		}
		s.hs = &http.Server{
			Handler:           http.HandlerFunc(s.serveHTTP),
			ReadHeaderTimeout: timeout(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			ReadTimeout:       timeout(s.ReadTimeout, DefaultReadTimeout),
			IdleTimeout:       timeout(s.IdleTimeout, DefaultIdleTimeout),
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	})
	return s.initErr
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
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Close stops the server gracefully: it stops accepting connections and
// answers 503 on /healthz, lets the acts in flight finish and write their
// replies (with Connection: close), closes idle connections, and returns
// once no connection is left. If ctx ends first, it closes every
// connection at once, which cancels the acts still running, and returns
// ctx's error. Close does not close the Engine. Calling it again waits
// again.
func (s *Server) Close(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.closing.Store(true)
	err := s.hs.Shutdown(ctx)
	if err != nil {
		s.hs.Close()
	}
	return err
}

// ServeHTTP serves acts on Path, /healthz and /metrics; anything else is
// 404 with an empty body, as Seneca answers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.serveHTTP(w, r)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
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

// Reply headers that never change, shared by every reply (net/http only
// reads them).
var (
	contentJSON = []string{"application/json"}
	noCache     = []string{"private, max-age=0, no-cache, no-store"}
	kindRes     = []string{"res"}
	zero        = []string{"0"}
	unknown     = []string{"UNKNOWN"}
	empty       = []string{""}
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveAct reads the message, acts it and writes Seneca's reply.
func (s *Server) serveAct(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := http.NewResponseController(w)
	in := incoming(r)
	if in.id == "" {
		in.id = s.idBase + strconv.FormatUint(s.seq.Add(1), 36)
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := s.readBody(buf, r); err != nil {
		s.reply(w, rc, in, start, noPattern, nil, err)
		return
	}
	// The body is in: from here the act's deadline bounds the request, not
	// ReadTimeout, which would otherwise cancel a long act's context.
	rc.SetReadDeadline(time.Time{})

	msg, err := decodeMessage(buf.Bytes(), r.URL.RawQuery, s.maxDepth)
	if err != nil {
		s.reply(w, rc, in, start, noPattern, nil, err)
		return
	}
	if !s.AllowSystem {
		if isSystem(msg) {
			s.reply(w, rc, in, start, noPattern, nil, notAllowed(msg))
			return
		}
		delete(msg, "fatal$")
	}
	pattern := noPattern
	if s.metrics != nil {
		if p, ok := s.Engine.Find(msg); ok {
			pattern = p
		}
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
	}
	ctx := stoa.WithMeta(r.Context(), in.meta())
	out, err := s.Engine.Act(ctx, msg)
	s.reply(w, rc, in, start, pattern, out, err)
}

// noPattern labels metrics of acts that no pattern answered.
const noPattern = "(none)"

// readBody reads the request body into buf, up to the limit.
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

// reply writes the act's outcome with the headers a Seneca client needs,
// and records it in the metrics.
func (s *Server) reply(w http.ResponseWriter, rc *http.ResponseController, in inbound, start time.Time, pattern string, out []byte, err error) {
	status := http.StatusOK
	outcome := "ok"
	if err != nil {
		var se *stoa.Error
		status, se = s.errorReply(err)
		outcome = se.Code
		b, merr := scrub(se).MarshalJSON()
		if merr != nil {
			s.log.Error("stoahttp: cannot encode an error reply", "code", se.Code, "err", merr)
			b = []byte(`{"code":"act_execute","message":"seneca: Error reply could not be encoded."}`)
		}
		out = b
	}
	if s.writeTimeout > 0 {
		rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
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
	if _, werr := w.Write(out); werr != nil {
		s.log.Debug("stoahttp: cannot write a reply", "id", in.id, "err", werr)
	}
	if s.metrics != nil {
		s.metrics.observe(pattern, outcome, time.Since(start))
	}
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
