package stoa

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Msg is a message: a JSON object. Keys ending in '$' are directives to the
// engine (timeout$, default$) and never take part in matching.
type Msg map[string]any

// MarshalJSON writes m as a JSON object; a nil Msg is {}.
func (m Msg) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]any(m))
}

// TrustedJSON is JSON that its producer guarantees to be valid, such as
// the output of an encoder. As a member of a message it encodes as it is:
// the mesh copies it onto the wire without the check it makes on a
// json.RawMessage, which costs about a microsecond per kilobyte and guards
// against bytes from a user that would break the message's JSON apart
// (`1,"role":"admin"`). Never convert bytes that came from outside the
// program, unchecked, to TrustedJSON. A nil TrustedJSON is null.
type TrustedJSON []byte

// MarshalJSON returns j itself, or null for a nil j.
func (j TrustedJSON) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// ParseMsg parses a message written in Seneca's string form
// ("role:math,cmd:sum,left:1"), as Act does with a string. JSON objects are
// valid in that form too.
func ParseMsg(s string) (Msg, error) {
	m, _, err := asMsg(s)
	return m, err
}

// asMsg turns a message given in any accepted form into a Msg and, when the
// message arrived as JSON, keeps the JSON so typed handlers decode it once.
func asMsg(msg any) (Msg, []byte, error) {
	switch m := msg.(type) {
	case Msg:
		return m, nil, nil
	case map[string]any:
		return m, nil, nil
	case string:
		p, err := parseJsonic(m)
		if err != nil {
			return nil, nil, &Error{Code: CodeMsgSyntax, Message: fmt.Sprintf("cannot parse message %q: %v", m, err)}
		}
		return p, nil, nil
	case json.RawMessage:
		return decodeMsg(m)
	case TrustedJSON:
		return decodeMsg(m)
	case []byte:
		return decodeMsg(m)
	case nil:
		return Msg{}, nil, nil
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, nil, &Error{Code: CodeInvalidMsg, Message: fmt.Sprintf("cannot encode %T as JSON: %v", msg, err)}
	}
	return decodeMsg(b)
}

func decodeMsg(b []byte) (Msg, []byte, error) {
	if m, ok := parseMsgJSON(b); ok {
		return m, b, nil
	}
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, &Error{Code: CodeInvalidJSON, Message: fmt.Sprintf("message is not valid JSON: %v", err)}
	}
	if m == nil {
		return nil, nil, &Error{Code: CodeInvalidJSON, Message: "message is not a JSON object"}
	}
	return m, b, nil
}

// isCompound reports whether v is an object or an array for JavaScript:
// any map, slice, array or struct.
func isCompound(v any) bool {
	switch v.(type) {
	case nil, string, bool, float64, int, int64, json.Number:
		return false
	case map[string]any, Msg, []any:
		return true
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return false
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		return true
	}
	return false
}
