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
	jsonContentType  = []string{"application/json"}
	errBodyOverLimit = errors.New("body over limit")
)

func reply(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(body)
}

// serveAPI serves the Runtime API to the environment's runtime.
func (e *Env) serveAPI(w http.ResponseWriter, r *http.Request) {
	call, id := parseAPIPath(r.URL.Path)
	want := http.MethodPost
	if call == callNext {
		want = http.MethodGet
	}
	switch {
	case call == callNone:
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		reply(w, http.StatusNotFound, bodyNotFound)
	case r.Method != want:
		reply(w, http.StatusMethodNotAllowed, bodyBadMethod)
	case call == callNext:
		e.serveNext(w, r)
	case call == callInitError:
		e.serveInitError(w, r)
	default:
		e.serveAnswer(w, r, id, call == callError)
	}
}

func (e *Env) serveNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	if e.initErr != nil {
		e.mu.Unlock()
		reply(w, http.StatusForbidden, bodyInitFailed)
		return
	}
	if !e.sawNext {
		e.sawNext = true
		e.initDur = time.Since(e.spawned)
		close(e.ready)
	}
	e.parked++
	e.parkedCond.Broadcast()
	var inv *invocation
	defer func() {
		e.mu.Lock()
		e.parked--
		e.mu.Unlock()
	}()
	if c := e.cur; c != nil {
		switch {
		case c.delivered && !c.answered:
			inv = c // a second next while an invocation is open gets it again
		case c.answered && !c.released:
			c.released = true
			close(c.releasedCh)
		}
	}
	e.mu.Unlock()
	if inv == nil {
		select {
		case inv = <-e.queue:
		case <-r.Context().Done():
			return
		case <-e.closing:
			reply(w, http.StatusGone, bodyClosing)
			return
		}
		e.mu.Lock()
		inv.delivered = true
		e.mu.Unlock()
	}
	h := w.Header()
	h[hdrRequestID] = []string{inv.id}
	h[hdrDeadline] = []string{strconv.FormatInt(inv.deadline.UnixMilli(), 10)}
	h[hdrFunctionARN] = []string{inv.arn}
	h[hdrTraceID] = []string{inv.traceID}
	if inv.clientContext != "" {
		h[hdrClientContext] = []string{inv.clientContext}
	}
	if inv.cognito != "" {
		h[hdrCognito] = []string{inv.cognito}
	}
	if inv.tenantID != "" {
		h[hdrTenantID] = []string{inv.tenantID}
	}
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(inv.payload))}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.payload)
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

func (e *Env) serveAnswer(w http.ResponseWriter, r *http.Request, id string, isErr bool) {
	e.mu.Lock()
	inv := e.cur
	if inv == nil || inv.id != id || !inv.delivered {
		known := e.answeredIDs[id]
		e.mu.Unlock()
		if known {
			reply(w, http.StatusForbidden, bodyStateTransit)
		} else {
			reply(w, http.StatusBadRequest, bodyBadID)
		}
		return
	}
	if inv.answered {
		e.mu.Unlock()
		reply(w, http.StatusForbidden, bodyStateTransit)
		return
	}
	e.mu.Unlock()

	body, err := readCapped(r.Body, e.cfg.MaxResponseBytes, r.ContentLength)
	tooLarge := errors.Is(err, errBodyOverLimit)
	if err != nil && !tooLarge {
		return // the runtime went away mid-body; the invocation stays open
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
		reply(w, http.StatusForbidden, bodyStateTransit)
		return
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
		reply(w, http.StatusRequestEntityTooLarge, []byte("{\"errorMessage\":\"Exceeded maximum allowed payload size ("+
			strconv.Itoa(e.cfg.MaxResponseBytes)+" bytes).\",\"errorType\":\"RequestEntityTooLarge\"}\n"))
		return
	}
	reply(w, http.StatusAccepted, bodyAccepted)
}

func (e *Env) serveInitError(w http.ResponseWriter, r *http.Request) {
	body, err := readCapped(r.Body, e.cfg.MaxResponseBytes, r.ContentLength)
	if err != nil && !errors.Is(err, errBodyOverLimit) {
		return
	}
	e.mu.Lock()
	if e.sawNext || e.initErr != nil {
		e.mu.Unlock()
		reply(w, http.StatusForbidden, bodyInitTwice)
		return
	}
	e.initErr = body
	e.initErrType = errorTypeOf(body)
	if e.initErrType == "" {
		e.initErrType = cleanType(r.Header.Get(hdrErrorType))
	}
	close(e.initFailed)
	e.mu.Unlock()
	reply(w, http.StatusAccepted, bodyAccepted)
}
