package lambda

import (
	"encoding/json"
	"fmt"
)

// Error codes: stable strings that say what went wrong with an invocation or
// an environment. Match them with errors.Is against the sentinel errors.
const (
	CodeTimeout          = "fn_timeout"
	CodeOutOfMemory      = "fn_out_of_memory"
	CodeExited           = "fn_exited"
	CodeInitFailed       = "fn_init_failed"
	CodeResponseTooLarge = "fn_response_too_large"
	CodeRequestTooLarge  = "fn_request_too_large"
	CodeEnvDead          = "fn_env_dead"
	CodeEnvBusy          = "fn_env_busy"
	CodeCanceled         = "fn_canceled"
)

// Error is an invocation or environment failure. Code is Stoa's stable code;
// Type and Payload are what AWS Lambda would tell the invoker (its errorType
// and the error body, JSON). Errors compare equal under errors.Is when their
// codes match, so errors.Is(err, ErrTimeout) works for any timeout.
type Error struct {
	Code      string // one of the Code* constants
	Type      string // Lambda's errorType, e.g. "Sandbox.Timedout", "Runtime.ExitError"
	Message   string // human-readable; for a timeout "Task timed out after N.00 seconds"
	RequestID string // the invocation, if there was one
	Payload   []byte // the body Lambda answers the invoker with
	Err       error  // the underlying cause, if any (a context error, a wait status)
}

// Sentinel errors, one per code, for errors.Is.
var (
	// ErrTimeout: the invocation ran past the function's timeout; the
	// environment's processes were killed and the environment discarded.
	ErrTimeout = &Error{Code: CodeTimeout, Type: "Sandbox.Timedout"}
	// ErrOutOfMemory: the environment went over its memory size and was killed.
	ErrOutOfMemory = &Error{Code: CodeOutOfMemory, Type: "Runtime.OutOfMemory"}
	// ErrExited: the runtime process exited (crash, panic, os.Exit) during an
	// invocation; the environment is discarded.
	ErrExited = &Error{Code: CodeExited, Type: "Runtime.ExitError"}
	// ErrInitFailed: the runtime reported an init error or exited before it
	// asked for its first invocation; Payload holds the init error body.
	ErrInitFailed = &Error{Code: CodeInitFailed, Type: "Runtime.InitError"}
	// ErrResponseTooLarge: the function answered more than the response cap.
	ErrResponseTooLarge = &Error{Code: CodeResponseTooLarge, Type: "Function.ResponseSizeTooLarge"}
	// ErrRequestTooLarge: the payload is over the request cap; it was refused
	// whole and the environment is untouched.
	ErrRequestTooLarge = &Error{Code: CodeRequestTooLarge, Type: "RequestEntityTooLarge"}
	// ErrEnvDead: the environment can no longer take invocations (see
	// [Env.Err]); the payload was not delivered, so retrying on a new
	// environment is safe.
	ErrEnvDead = &Error{Code: CodeEnvDead, Type: "Stoa.EnvironmentDead"}
	// ErrEnvBusy: an invocation is already running in the environment.
	ErrEnvBusy = &Error{Code: CodeEnvBusy, Type: "Stoa.EnvironmentBusy"}
	// ErrCanceled: the caller's context ended during the invocation; the
	// function could not be stopped otherwise, so the environment was discarded.
	ErrCanceled = &Error{Code: CodeCanceled, Type: "Stoa.Canceled"}
)

// Error returns "lambda: <Type>: <Message>".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	return "lambda: " + e.Type + ": " + msg
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error of the sentinel's kind whose Payload is Lambda's
// JSON error body {"errorMessage","errorType"}.
func newError(kind *Error, reqID, msg string, cause error) *Error {
	body, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{msg, kind.Type})
	return &Error{Code: kind.Code, Type: kind.Type, Message: msg, RequestID: reqID, Payload: body, Err: cause}
}

// timeoutMessage is Lambda's text: whole seconds print as "N.00".
func timeoutMessage(sec float64) string { return fmt.Sprintf("Task timed out after %.2f seconds", sec) }
