package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Runtime API, as served to one environment's runtime on loopback.
const apiBase = "/2018-06-01/runtime/"

type apiCall int

const (
	callNone apiCall = iota
	callNext
	callResponse
	callError
	callInitError
)

// parseAPIPath maps a request path to a Runtime API call and, for response
// and error, the request id. The path comes from the function: untrusted.
func parseAPIPath(path string) (apiCall, string) {
	rest, ok := strings.CutPrefix(path, apiBase)
	if !ok {
		return callNone, ""
	}
	switch rest {
	case "invocation/next":
		return callNext, ""
	case "init/error":
		return callInitError, ""
	}
	rest, ok = strings.CutPrefix(rest, "invocation/")
	if !ok {
		return callNone, ""
	}
	id, op, ok := strings.Cut(rest, "/")
	if !ok || id == "" || len(id) > 128 {
		return callNone, ""
	}
	switch op {
	case "response":
		return callResponse, id
	case "error":
		return callError, id
	}
	return callNone, ""
}

// errorTypeOf finds the errorType of an error body: JSON
// {"errorType": "..."} as every client sends it; anything else has none.
// The body comes from the function: untrusted.
func errorTypeOf(body []byte) string {
	var v struct {
		Type any `json:"errorType"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	s, _ := v.Type.(string)
	return cleanType(s)
}

// cleanType keeps an error type printable and short, for logs and headers.
func cleanType(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

const (
	hdrRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID       = "Lambda-Runtime-Trace-Id"
	hdrClientContext = "Lambda-Runtime-Client-Context"
	hdrCognito       = "Lambda-Runtime-Cognito-Identity"
	hdrTenantID      = "Lambda-Runtime-Aws-Tenant-Id"
	hdrErrorType     = "Lambda-Runtime-Function-Error-Type"
	trlErrorBody     = "Lambda-Runtime-Function-Error-Body"
)

var (
	bodyAccepted     = []byte("{\"status\":\"OK\"}\n")
	bodyClosing      = []byte("{\"errorMessage\":\"The environment is shutting down\",\"errorType\":\"EnvironmentClosing\"}\n")
	bodyBadID        = []byte("{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n")
	bodyStateTransit = []byte("{\"errorMessage\":\"Invalid state transition: the invocation was already answered\",\"errorType\":\"InvalidStateTransition\"}\n")
	bodyInitFailed   = []byte("{\"errorMessage\":\"Invalid state transition: init failed\",\"errorType\":\"InvalidStateTransition\"}\n")
	bodyNotFound     = []byte("{\"errorMessage\":\"Not found\",\"errorType\":\"InvalidRequest\"}\n")
	bodyBadMethod    = []byte("{\"errorMessage\":\"Method not allowed\",\"errorType\":\"InvalidRequest\"}\n")
	bodyInitTwice    = []byte("{\"errorMessage\":\"Invalid state transition: init already ended\",\"errorType\":\"InvalidStateTransition\"}\n")
	errBodyOverLimit = errors.New("body over limit")
)

// serveRequest answers one request of the runtime; false closes the
// connection.
func (e *Env) serveRequest(ac *apiConn, r *http.Request) bool {
	call, id := parseAPIPath(r.URL.Path)
	want := http.MethodPost
	if call == callNext {
		want = http.MethodGet
	}
	switch {
	case call == callNone:
		return ac.reply(http.StatusNotFound, bodyNotFound) == nil
	case r.Method != want:
		return ac.reply(http.StatusMethodNotAllowed, bodyBadMethod) == nil
	case call == callNext:
		return e.serveNext(ac)
	case call == callInitError:
		return e.serveInitError(ac, r)
	default:
		return e.serveAnswer(ac, r, id, call == callError)
	}
}

// serveNext answers a "next" at once when an invocation waits for it (or,
// as the RIE does, with the open one again); otherwise it parks the
// connection for Invoke to write the next invocation onto (see offer).
func (e *Env) serveNext(ac *apiConn) bool {
	e.mu.Lock()
	if e.initErr != nil {
		e.mu.Unlock()
		return ac.reply(http.StatusForbidden, bodyInitFailed) == nil
	}
	select {
	case <-e.closing:
		e.mu.Unlock()
		return ac.reply(http.StatusGone, bodyClosing) == nil
	default:
	}
	if !e.sawNext {
		e.sawNext = true
		e.initDur = time.Since(e.spawned)
		close(e.ready)
	}
	var inv *invocation
	if c := e.cur; c != nil {
		switch {
		case !c.delivered:
			c.delivered = true
			inv = c
		case !c.answered:
			inv = c // a second next while an invocation is open gets it again
		case !c.released:
			c.released = true
			close(c.releasedCh)
		}
	}
	if inv == nil {
		e.parkedConns = append(e.parkedConns, ac)
		e.parked++
		e.parkedCond.Broadcast()
		e.mu.Unlock()
		return true
	}
	e.mu.Unlock()
	if err := ac.sendInvocation(inv); err != nil {
		e.undeliver(inv)
		return false
	}
	return true
}

// offer writes the current invocation onto a parked "next", if there is
// one; otherwise the runtime's next "next" takes it. It runs on the
// invoking goroutine.
func (e *Env) offer() {
	e.mu.Lock()
	for {
		inv := e.cur
		n := len(e.parkedConns)
		if inv == nil || inv.delivered || n == 0 {
			e.mu.Unlock()
			return
		}
		ac := e.parkedConns[n-1] // the newest: an older one may be a connection given up on
		e.parkedConns[n-1] = nil
		e.parkedConns = e.parkedConns[:n-1]
		e.parked--
		inv.delivered = true
		e.mu.Unlock()
		if ac.sendInvocation(inv) == nil {
			return
		}
		ac.c.Close()
		e.mu.Lock()
		if inv.answered {
			e.mu.Unlock()
			return
		}
		inv.delivered = false
	}
}

// undeliver takes back an invocation whose "next" answer failed.
func (e *Env) undeliver(inv *invocation) {
	e.mu.Lock()
	if !inv.answered {
		inv.delivered = false
	}
	e.mu.Unlock()
	e.offer()
}

// unpark removes ac from the parked "next" requests; it reports whether
// it was parked.
func (e *Env) unpark(ac *apiConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, p := range e.parkedConns {
		if p == ac {
			e.parkedConns = append(e.parkedConns[:i], e.parkedConns[i+1:]...)
			e.parked--
			return true
		}
	}
	return false
}

// readCapped reads the whole body, or up to limit bytes and then errBodyOverLimit.
func readCapped(r io.Reader, limit int, hint int64) ([]byte, error) {
	n := 512
	if hint > 0 && hint <= int64(limit) {
		n = int(hint) + 1
	}
	buf := make([]byte, 0, n)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if len(buf) > limit {
			return buf[:limit], errBodyOverLimit
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (e *Env) serveAnswer(ac *apiConn, r *http.Request, id string, isErr bool) bool {
	e.mu.Lock()
	inv := e.cur
	if inv == nil || inv.id != id || !inv.delivered {
		known := e.answeredIDs[id]
		e.mu.Unlock()
		if known {
			return ac.reply(http.StatusForbidden, bodyStateTransit) == nil
		}
		return ac.reply(http.StatusBadRequest, bodyBadID) == nil
	}
	if inv.answered {
		e.mu.Unlock()
		return ac.reply(http.StatusForbidden, bodyStateTransit) == nil
	}
	e.mu.Unlock()

	body, err := readCapped(r.Body, e.cfg.MaxResponseBytes, r.ContentLength)
	tooLarge := errors.Is(err, errBodyOverLimit)
	if err != nil && !tooLarge {
		return false // the runtime went away mid-body; the invocation stays open
	}
	errType := ""
	if isErr {
		errType = errorTypeOf(body)
		if errType == "" {
			errType = cleanType(r.Header.Get(hdrErrorType))
		}
	}
	// aws-lambda-go streams a response and, if producing it fails, declares
	// the failure in trailers: the body is then the error, not a result.
	if t := r.Trailer.Get(hdrErrorType); t != "" && !tooLarge {
		isErr, errType = true, cleanType(t)
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trlErrorBody)); err == nil && len(b) > 0 {
			body = b
		}
	}

	e.mu.Lock()
	if inv.answered { // a concurrent answer won
		e.mu.Unlock()
		return ac.reply(http.StatusForbidden, bodyStateTransit) == nil
	}
	inv.answered = true
	inv.body, inv.isErr, inv.errType, inv.tooLarge = body, isErr, errType, tooLarge
	if len(e.answeredIDs) >= 256 {
		clear(e.answeredIDs) // ids that old then get 400 instead of 403
	}
	e.answeredIDs[id] = true
	e.mu.Unlock()
	close(inv.done)

	if tooLarge {
		return ac.reply(http.StatusRequestEntityTooLarge, []byte("{\"errorMessage\":\"Exceeded maximum allowed payload size ("+
			strconv.Itoa(e.cfg.MaxResponseBytes)+" bytes).\",\"errorType\":\"RequestEntityTooLarge\"}\n")) == nil
	}
	return ac.reply(http.StatusAccepted, bodyAccepted) == nil
}

func (e *Env) serveInitError(ac *apiConn, r *http.Request) bool {
	body, err := readCapped(r.Body, e.cfg.MaxResponseBytes, r.ContentLength)
	if err != nil && !errors.Is(err, errBodyOverLimit) {
		return false
	}
	e.mu.Lock()
	if e.sawNext || e.initErr != nil {
		e.mu.Unlock()
		return ac.reply(http.StatusForbidden, bodyInitTwice) == nil
	}
	e.initErr = body
	e.initErrType = errorTypeOf(body)
	if e.initErrType == "" {
		e.initErrType = cleanType(r.Header.Get(hdrErrorType))
	}
	close(e.initFailed)
	e.mu.Unlock()
	return ac.reply(http.StatusAccepted, bodyAccepted) == nil
}
