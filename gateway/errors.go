package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/stoaproject/stoa"
)

// Codes of the errors the gateway answers with itself. Errors of act
// routes carry the act's code instead (stoa.CodeNotFound, …).
const (
	CodeBadRequest       = "bad_request"        // 400: a path or body the gateway cannot read
	CodeUnauthorized     = "unauthorized"       // 401: management API without the right token
	CodeRouteNotFound    = "route_not_found"    // 404: no route matches the path
	CodeMethodNotAllowed = "method_not_allowed" // 405: routes match the path, none the method
	CodeConflict         = "route_conflict"     // 409: a route ambiguous with or duplicating another
	CodeTooLarge         = "request_too_large"  // 413: the body is over Server.MaxBodyBytes
	CodeRateLimited      = "rate_limited"       // 429: the route's token bucket is empty
	CodeBadGateway       = "bad_gateway"        // 502: the function failed or replied badly
	CodeUnavailable      = "unavailable"        // 503: the gateway is draining, or no store
	CodeTimeout          = "gateway_timeout"    // 504: the route's timeout passed
	CodeNotFound         = "not_found"          // 404: a management API object that does not exist
)

// httpError is an error reply: the status and the safe message the client
// sees, and the cause, which only the log sees.
type httpError struct {
	status  int
	code    string
	message string
	err     error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.message + ": " + e.err.Error()
	}
	return e.message
}

// errorBody is every error reply: API Gateway's {"message"}, with the code
// and the request id (which the log line of the error also carries).
type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
}

// Messages API Gateway answers with, which function routes keep so that
// clients written for it read them.
const (
	msgInternal     = "Internal server error"
	msgTimedOut     = "Endpoint request timed out"
	msgNotFound     = "Not Found"
	msgTooLarge     = "Request Too Long"
	msgTooMany      = "Too Many Requests"
	msgUnauthorized = "Unauthorized"
)

// actError maps an act's error to the reply: this, with functionError, is
// the one place where act codes become HTTP statuses.
//
//	act_not_found                        404
//	act_invalid_msg, invalid_json        400
//	action_timeout, or the route's timeout  504
//	closed, mesh_unavailable             503
//	act_canceled (the client went away)  499
//	over the NATS server's max_payload   413
//	anything else (act_execute, …)       500, or the 4xx/5xx the error's
//	                                     details.statusCode asks for
//
// The client sees a fixed message for 5xx replies (the cause, which may
// name internals, goes to the log) and the error's own for 4xx.
func actError(ctx context.Context, err error) *httpError {
	var se *stoa.Error
	if !errors.As(err, &se) {
		se = &stoa.Error{Code: stoa.CodeExecute, Message: err.Error(), Err: err}
	}
	he := &httpError{code: se.Code, err: err}
	switch {
	case tooLargeToSend(err):
		he.status, he.code, he.message = http.StatusRequestEntityTooLarge, CodeTooLarge, msgTooLarge
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		he.status, he.code, he.message = http.StatusGatewayTimeout, stoa.CodeTimeout, "the service did not answer within the route's timeout"
	case se.Code == stoa.CodeNotFound:
		he.status, he.message = http.StatusNotFound, "no service answers this route"
	case se.Code == stoa.CodeTimeout:
		he.status, he.message = http.StatusGatewayTimeout, "the service did not answer in time"
	case se.Code == stoa.CodeInvalidMsg || se.Code == stoa.CodeInvalidJSON:
		he.status, he.message = http.StatusBadRequest, se.Message
	case se.Code == stoa.CodeReplyTooLarge:
		he.status, he.message = http.StatusBadGateway, "the service's reply is too large for the mesh"
	case se.Code == stoa.CodeClosed || se.Code == "mesh_unavailable":
		he.status, he.message = http.StatusServiceUnavailable, "the service is unavailable"
	case se.Code == stoa.CodeCanceled || errors.Is(ctx.Err(), context.Canceled):
		he.status, he.message = statusClientClosed, "the client went away"
	default:
		he.status, he.message = http.StatusInternalServerError, "the service failed"
		if n, ok := se.StatusCode(); ok {
			he.status = n
			if n < 500 {
				he.message = se.Message
			}
		}
	}
	return he
}

// statusClientClosed is nginx's status for a request whose client left
// before the reply; the client never sees it, the log and metrics do.
const statusClientClosed = 499

// codeFnRequestTooLarge is the function workers' code for an event over
// Lambda's payload cap (fn/worker; the gateway does not import it).
const codeFnRequestTooLarge = "fn_request_too_large"

// tooLargeToSend reports whether an act failed because its message is over
// the cap of the NATS server the gateway's mesh node is connected to
// (max_payload, which the client learns when it connects and enforces
// before sending): the request is too large for this mesh, 413, not a
// failure of the service.
func tooLargeToSend(err error) bool { return errors.Is(err, stoa.ErrMsgTooLarge) }

// functionError maps a failed invocation: past the route's timeout 504
// (the gateway's deadline, or action_timeout: the deadline it gave the act,
// seen first on the far side), anything else (the function's error, its
// own timeout fn_timeout, no worker) 502, with API Gateway's messages; an
// event too large for the mesh or for Lambda's payload cap 413.
func functionError(ctx context.Context, err error) *httpError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, stoa.ErrTimeout) {
		return &httpError{status: http.StatusGatewayTimeout, code: CodeTimeout, message: msgTimedOut, err: err}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return &httpError{status: statusClientClosed, code: stoa.CodeCanceled, message: "the client went away", err: err}
	}
	if tooLargeToSend(err) || errors.Is(err, &stoa.Error{Code: codeFnRequestTooLarge}) {
		return &httpError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge, message: msgTooLarge, err: err}
	}
	return &httpError{status: http.StatusBadGateway, code: CodeBadGateway, message: msgInternal, err: err}
}

// writeError writes e as JSON and logs it with the request id: at Info for
// the client's mistakes, at Warn for the gateway's or a service's failures.
func (s *Server) writeError(w http.ResponseWriter, q *request, route string, e *httpError) {
	b, _ := json.Marshal(errorBody{Message: e.message, Code: e.code, RequestID: q.id})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
	level := slog.LevelInfo
	if e.status >= 500 && e.status != statusClientClosed {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", q.id),
		slog.String("method", q.r.Method),
		slog.String("path", q.r.URL.Path),
		slog.String("route", route),
		slog.Int("status", e.status),
		slog.String("code", e.code),
	}
	if e.err != nil {
		attrs = append(attrs, slog.String("err", e.err.Error()))
	}
	s.log.LogAttrs(context.Background(), level, "gateway: "+e.message, attrs...)
}
