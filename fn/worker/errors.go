package worker

// The errors an fn act answers with.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
)

// resolveError turns a registry error into the act's error.
func resolveError(req Request, err error) error {
	q := req.Qualifier
	if q == "" {
		q = "latest"
	}
	details := map[string]any{"function": req.Fn, "qualifier": q}
	var fe *fn.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if fe.Function != "" {
			msg = fe.Function + ": " + msg
		}
		return &stoa.Error{Code: fe.Code, Pattern: Pattern, Message: msg, Details: details, Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &stoa.Error{Code: stoa.CodeTimeout, Pattern: Pattern, Message: "fn: resolving " + req.Fn + ":" + q + ": " + err.Error(), Details: details, Err: err}
	}
	return &stoa.Error{Code: CodeUnavailable, Pattern: Pattern, Message: "fn: resolving " + req.Fn + ":" + q + ": " + err.Error(), Details: details, Err: err}
}

// invokeError turns an environment's error into the act's error, keeping
// what Lambda would answer (errorType, the error body) in its details.
func invokeError(v *fn.Version, res *lambda.Result, err error) error {
	details := map[string]any{"function": v.Function, "version": v.Number}
	body := func(b []byte) {
		if len(b) == 0 {
			return
		}
		if json.Valid(b) {
			details["payload"] = json.RawMessage(b)
		} else {
			details["payload"] = string(b)
		}
	}
	prefix := fmt.Sprintf("%s:%d: ", v.Function, v.Number)
	if res != nil {
		details["requestId"] = res.RequestID
		body(res.Payload)
	}
	var le *lambda.Error
	var se *stoa.Error
	switch {
	case errors.Is(err, ErrFunctionError):
		details["errorType"] = res.ErrorType
		msg := errorMessage(res.Payload)
		if msg == "" {
			msg = "the function failed"
		}
		if res.ErrorType != "" {
			msg = res.ErrorType + ": " + msg
		}
		return &stoa.Error{Code: CodeFunctionError, Pattern: Pattern, Message: prefix + msg, Details: details}
	case errors.As(err, &le):
		details["errorType"] = le.Type
		if res == nil {
			body(le.Payload)
		}
		if le.RequestID != "" {
			details["requestId"] = le.RequestID
		}
		msg := le.Message
		if msg == "" {
			msg = le.Type
		}
		return &stoa.Error{Code: le.Code, Pattern: Pattern, Message: prefix + msg, Details: details, Err: err}
	case errors.As(err, &se):
		maps.Copy(details, se.Details)
		return &stoa.Error{Code: se.Code, Pattern: Pattern, Message: se.Message, Details: details, Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &stoa.Error{Code: stoa.CodeTimeout, Pattern: Pattern, Message: prefix + err.Error(), Details: details, Err: err}
	}
	return &stoa.Error{Code: CodeUnavailable, Pattern: Pattern, Message: prefix + err.Error(), Details: details, Err: err}
}

// errorMessage is the errorMessage of a Lambda error body, or the body
// itself when it is short text.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	if s := strings.TrimSpace(string(body)); len(s) <= 200 && !strings.HasPrefix(s, "{") {
		return s
	}
	return ""
}
