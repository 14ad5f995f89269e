package stoahttp

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// The listener's fasthttp side: what Serve and ListenAndServe answer.

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
