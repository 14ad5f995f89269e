package stoa

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Seneca's error codes, as an Error carries them in Code.
const (
	CodeNotFound      = "act_not_found"             // no pattern matches the message
	CodeExecute       = "act_execute"               // the handler failed or panicked
	CodeTimeout       = "action_timeout"            // no reply before the deadline
	CodeInvalidMsg    = "act_invalid_msg"           // the message breaks the pattern's rules
	CodeResult        = "result_not_objarr"         // the reply is not an object, an array or null
	CodeInvalidJSON   = "invalid_json"              // a transport could not decode the message
	CodePatternSyntax = "add_string_pattern_syntax" // a pattern or message string does not parse
	CodeClosed        = "closed"                    // the engine is closed
	CodeMsgSyntax     = "msg_jsonic_syntax"         // a message string does not parse
	CodeCanceled      = "act_canceled"              // the caller canceled the act
	CodeReplyTooLarge = "reply_too_large"           // the reply is larger than the transport carries
	CodeMsgTooLarge   = "msg_too_large"             // the message is larger than the transport carries
)

// Sentinel errors, one per code. Match them with errors.Is, which compares
// codes, so an error decoded from the wire matches as a local one does:
//
//	if errors.Is(err, stoa.ErrNotFound) { … }
var (
	ErrNotFound   = &Error{Code: CodeNotFound, Message: "no pattern matches"}
	ErrExecute    = &Error{Code: CodeExecute, Message: "action failed"}
	ErrTimeout    = &Error{Code: CodeTimeout, Message: "action timed out"}
	ErrInvalidMsg = &Error{Code: CodeInvalidMsg, Message: "invalid message"}
	ErrResult     = &Error{Code: CodeResult, Message: "result is not an object or array"}
	ErrClosed     = &Error{Code: CodeClosed, Message: "engine closed"}

	// ErrReplyTooLarge is the error of an act whose handler replied with
	// more bytes than the transport carrying the reply back takes in one
	// message (the NATS server's max_payload, across the mesh): the caller
	// gets it at once instead of waiting for its deadline.
	ErrReplyTooLarge = &Error{Code: CodeReplyTooLarge, Message: "reply too large"}

	// ErrMsgTooLarge is the error of an act whose message is more bytes
	// than the transport carrying it takes in one message (the NATS
	// server's max_payload, across the mesh); it was never sent.
	ErrMsgTooLarge = &Error{Code: CodeMsgTooLarge, Message: "message too large"}
)

// Error is the one error type of an act. Code is Seneca's code; Message
// says what happened; Pattern is the canonical pattern of the action that
// was running, if any. Err is the local cause (a handler's error) and never
// crosses the wire; Details carries Seneca's details object when it does.
type Error struct {
	Code    string
	Message string
	Pattern string
	Details map[string]any
	Err     error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// StatusCode returns the HTTP error status a handler asked for in
// Details["statusCode"] (a whole number from 400 to 599), which the HTTP
// listener and the gateway answer with; ok is false when there is none.
func (e *Error) StatusCode() (code int, ok bool) {
	switch v := e.Details["statusCode"].(type) {
	case float64:
		code = int(v)
		if float64(code) != v {
			return 0, false
		}
	case int:
		code = v
	default:
		return 0, false
	}
	return code, code >= 400 && code <= 599
}

// senecaError is the JSON of an error as Seneca (eraro) writes it.
type senecaError struct {
	Eraro     bool           `json:"eraro"`
	Orig      any            `json:"orig"`
	Code      string         `json:"code"`
	Seneca    bool           `json:"seneca"`
	Package   string         `json:"package"`
	Msg       string         `json:"msg"`
	Details   map[string]any `json:"details"`
	Callpoint any            `json:"callpoint"`
	Message   string         `json:"message,omitempty"`
	Name      string         `json:"name,omitempty"`
}

// MarshalJSON writes the error as Seneca does, so that a Seneca caller
// finds the code at err.data.payload.code. No Go error chain, stack or file
// path is written: only the code, the message and the details.
func (e *Error) MarshalJSON() ([]byte, error) {
	text := "seneca: " + upperFirst(e.Message) + "."
	details := make(map[string]any, len(e.Details)+2)
	for k, v := range e.Details {
		details[k] = v
	}
	if e.Pattern != "" {
		details["pattern"] = e.Pattern
	}
	var orig any
	if e.Err != nil {
		cause := e.Err.Error()
		details["message"] = cause
		o := map[string]any{"message": cause}
		var se *Error
		if errors.As(e.Err, &se) {
			o["code"] = se.Code
		}
		orig = o
	}
	return json.Marshal(senecaError{
		Eraro: true, Orig: orig, Code: e.Code, Seneca: true, Package: "seneca",
		Msg: text, Details: details, Message: text, Name: "Error",
	})
}

// UnmarshalJSON reads an error written by MarshalJSON or by Seneca.
func (e *Error) UnmarshalJSON(b []byte) error {
	var se senecaError
	if err := json.Unmarshal(b, &se); err != nil {
		return err
	}
	if se.Code == "" {
		return errors.New("stoa: error JSON has no code")
	}
	text := se.Message
	if text == "" {
		text = se.Msg
	}
	text = strings.TrimSuffix(strings.TrimPrefix(text, "seneca: "), ".")
	*e = Error{Code: se.Code, Message: lowerFirst(text), Details: se.Details}
	if p, ok := se.Details["pattern"].(string); ok {
		e.Pattern = p
	}
	return nil
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsUpper(r) {
		return s
	}
	// Keep acronyms and codes as they are ("HTTP 500 …").
	if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}
