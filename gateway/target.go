package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stoaproject/stoa"
)

// parsePattern reads an act route's pattern into the keys it puts in every
// message. Values must be plain (strings, numbers, booleans): a glob or a
// validation rule describes many messages, and a route acts one.
func parsePattern(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty pattern")
	}
	m, err := stoa.ParseMsg(s)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("empty pattern")
	}
	for k, v := range m {
		if strings.HasSuffix(k, "$") {
			return nil, fmt.Errorf("key %q: directives have no place in a route's pattern", k)
		}
		switch v := v.(type) {
		case string:
			if strings.ContainsAny(v, "*?") {
				return nil, fmt.Errorf("key %q: %q is a glob; a route acts one message, so give a plain value", k, v)
			}
		case bool, float64, json.Number, int, int64:
		default:
			return nil, fmt.Errorf("key %q: %v is not a plain value", k, v)
		}
	}
	return m, nil
}

// actMessage folds a request into the message of an act route, each part
// over the one before: the JSON body's keys, the query's parameters (a
// repeated one becomes an array of strings), the path's parameters, then
// the route's pattern, which nothing the client sends can change. Keys
// ending in '$' (engine directives such as timeout$ or default$) are
// dropped from what the client sends.
// The path's parameters come from segs (entry.pathParams), without a map
// of their own.
func actMessage(e *entry, r *http.Request, body []byte, segs []string) (stoa.Msg, error) {
	msg := make(stoa.Msg, len(e.msg)+len(e.tmpl))
	if b := bytes.TrimSpace(body); len(b) > 0 {
		if b[0] != '{' {
			return nil, errNotObject
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&msg); err != nil {
			return nil, fmt.Errorf("%w: %v", errNotObject, err)
		}
		if d.More() {
			return nil, errNotObject
		}
	}
	if r.URL.RawQuery != "" {
		for k, vs := range query(r.URL.RawQuery) {
			if len(vs) == 1 {
				msg[k] = vs[0]
				continue
			}
			a := make([]any, len(vs))
			for i, v := range vs {
				a[i] = v
			}
			msg[k] = a
		}
	}
	for k, v := range e.pathParams(segs) {
		msg[k] = v
	}
	for k := range msg {
		if strings.HasSuffix(k, "$") {
			delete(msg, k)
		}
	}
	for k, v := range e.msg {
		msg[k] = v
	}
	return msg, nil
}

var errNotObject = errors.New("the body of an act route must be a JSON object")

// The function's side of the mesh: the gateway invokes a function by
// acting fn:NAME, which the function workers serve (package fn/worker,
// worker.Request and worker.Reply). These two functions are the whole of
// the gateway's knowledge of that message; the gateway does not import the
// worker.

// functionMsg is the act that invokes a function with an event, JSON the
// gateway encoded itself or has checked already (json.Valid): the mesh
// sends it without checking it again.
func functionMsg(name, qualifier string, event stoa.TrustedJSON) stoa.Msg {
	return stoa.Msg{"fn": name, "qualifier": qualifier, "payload": event}
}

// workerReply maps a worker's reply to the HTTP reply: in one pass when the
// function's result is a proxy response of the documented types (the
// common case), else through functionResult and mapReply.
func workerReply(reply json.RawMessage, format string) (*proxyReply, error) {
	var r struct {
		Payload *fastProxy `json:"payload"`
	}
	if firstNonSpace(reply) == '{' && json.Unmarshal(reply, &r) == nil && r.Payload != nil {
		if p := r.Payload.reply(format); p != nil {
			return p, nil
		}
	}
	res, err := functionResult(reply)
	if err != nil {
		return nil, err
	}
	return mapReply(res, format)
}

// functionResult takes the function's result out of the worker's reply,
// {"version": 3, "requestId": "…", "payload": …}: the payload when it is
// JSON, null when the function returned nothing, and an error when it
// returned bytes that are not JSON (payloadBase64), which no proxy response
// can be.
func functionResult(reply json.RawMessage) (json.RawMessage, error) {
	var r struct {
		Payload       json.RawMessage `json:"payload"`
		PayloadBase64 []byte          `json:"payloadBase64"`
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return nil, fmt.Errorf("the worker's reply is not an object: %w", err)
	}
	switch {
	case r.Payload != nil:
		return r.Payload, nil
	case r.PayloadBase64 != nil:
		return nil, fmt.Errorf("%w: the function returned %d bytes that are not JSON", errBadReply, len(r.PayloadBase64))
	}
	return json.RawMessage("null"), nil
}
