package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stoaproject/stoa"
)

var (
	jsonType      = []string{"application/json"}
	bufPool       = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	maxPooledBody = 1 << 20
)

// serveRoute finds the request's route and serves it, returning the route's
// key (for metrics) and the status written.
func (s *Server) serveRoute(w http.ResponseWriter, q *request) (string, int) {
	r := q.r
	segs, ok := appendSegments(q.segBuf[:0], r.URL.EscapedPath())
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
		q.params = e.params(segs)
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
	msg, err := actMessage(e, q.r, q.body, q.segs)
	if err != nil {
		return s.fail(w, q, e.key, &httpError{status: http.StatusBadRequest, code: stoa.CodeInvalidJSON, message: err.Error()})
	}
	out, err := s.Engine.Act(ctx, msg)
	if err != nil {
		return s.fail(w, q, e.key, actError(ctx, err))
	}
	s.setWriteDeadline(rc)
	return writeJSONLen(w, http.StatusOK, out, q.vals[1:2:2])
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
	return writeJSONLen(w, status, b, make([]string, 1))
}

// writeJSONLen is writeJSON with the one-element slice that holds the
// Content-Length header's value given, so that a request can lend its own
// (request.vals) instead of allocating one.
func writeJSONLen(w http.ResponseWriter, status int, b []byte, clen []string) int {
	h := w.Header()
	h["Content-Type"] = jsonType
	clen[0] = strconv.Itoa(len(b))
	h["Content-Length"] = clen
	w.WriteHeader(status)
	w.Write(b)
	return status
}
