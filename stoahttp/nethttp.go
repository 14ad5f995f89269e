package stoahttp

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stoaproject/stoa"
)

// The listener's net/http side, for mounting a Server in a net/http
// server (ServeHTTP).

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
