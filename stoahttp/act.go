package stoahttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/stoaproject/stoa"
)

// Acting a request's message and turning the outcome into the reply,
// for both sides of the listener.

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
	if code, ok := se.StatusCode(); ok {
		return code, se
	}
	return http.StatusInternalServerError, se
}
