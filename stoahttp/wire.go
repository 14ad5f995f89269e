package stoahttp

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/stoaproject/stoa"
	"github.com/valyala/fasthttp"
)

// inbound is what a request's headers say about the act.
type inbound struct {
	id          string // seneca-id: "<act id>/<transaction id>", or one generated
	origin      string // seneca-origin, else the User-Agent (as Seneca does)
	track       string // seneca-track, joined with ","
	traceParent string
	traceState  string
}

func incoming(r *http.Request) inbound {
	h := r.Header
	in := inbound{
		id:          h.Get("Seneca-Id"),
		origin:      h.Get("Seneca-Origin"),
		traceParent: h.Get("Traceparent"),
		traceState:  h.Get("Tracestate"),
	}
	if in.origin == "" {
		in.origin = h.Get("User-Agent")
	}
	if t := h.Get("Seneca-Track"); t != "" {
		in.track = joinTrack(t)
	}
	return in
}

// incomingFast reads the same headers from a request the listener
// serves, in one pass over them (their names arrive canonical).
func incomingFast(h *fasthttp.RequestHeader) inbound {
	var in inbound
	var agent, track []byte
	for k, v := range h.All() {
		switch string(k) {
		case "Seneca-Id":
			in.id = string(v)
		case "Seneca-Origin":
			in.origin = string(v)
		case "Seneca-Track":
			track = v
		case "Traceparent":
			in.traceParent = string(v)
		case "Tracestate":
			in.traceState = string(v)
		case "User-Agent":
			agent = v
		}
	}
	if in.origin == "" {
		in.origin = string(agent)
	}
	if len(track) > 0 {
		in.track = joinTrack(string(track))
	}
	return in
}

// meta is the metadata the act adopts: a Seneca id "mi/tx" gives the act id
// and the transaction id, as a Seneca listener's act takes them.
func (in inbound) meta() stoa.Meta {
	m := stoa.Meta{Caller: in.origin, TraceParent: in.traceParent, TraceState: in.traceState}
	if i := strings.LastIndexByte(in.id, '/'); i > 0 && i < len(in.id)-1 {
		m.ID, m.TxID = in.id[:i], in.id[i+1:]
	} else {
		m.ID = in.id
	}
	return m
}

// joinTrack turns the JSON array a Seneca client sends in seneca-track
// into the comma-joined form a Seneca listener echoes.
func joinTrack(t string) string {
	if len(t) > 4 && t[:2] == `["` && t[len(t)-2:] == `"]` && !strings.ContainsAny(t[2:len(t)-2], `"\`) {
		return t[2 : len(t)-2] // one plain id, the usual case
	}
	var ids []string
	if err := json.Unmarshal([]byte(t), &ids); err != nil {
		return t
	}
	return strings.Join(ids, ",")
}

// requestError is a request refused before any act ran, with its status.
type requestError struct {
	status int
	err    *stoa.Error
}

func (e *requestError) Error() string { return e.err.Error() }

func badRequest(code, format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, err: &stoa.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func tooLarge(limit int64) *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge, err: &stoa.Error{
		Code: CodeTooLarge, Message: fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}}
}

func notAllowed(msg stoa.Msg) *requestError {
	return &requestError{status: http.StatusForbidden, err: &stoa.Error{
		Code:    CodeNotAllowed,
		Message: fmt.Sprintf("system message role:%v is not served to remote callers", jsString(msg["role"])),
	}}
}

// systemRoles are the roles of Seneca's built-in patterns (ping, stats,
// close, options, transport hooks) and of seneca-mesh's.
var systemRoles = map[string]bool{"seneca": true, "transport": true, "options": true, "mesh": true}

// isSystem reports whether msg would reach a system pattern, comparing
// values as Seneca does (as JavaScript strings, so ["seneca"] is seneca).
func isSystem(msg stoa.Msg) bool {
	if r, ok := msg["role"]; ok && systemRoles[jsString(r)] {
		return true
	}
	_, sys := msg["sys"]
	return sys
}

// plainBody reports whether the JSON in b certainly needs none of the
// listener's checks of a decoded message: it has no key "sys" or "fatal$",
// and every "role" key's value is a string that is not a system role, at
// any depth. It does not check that b is valid JSON. With no backslash in
// b, no string can hold a quote, so every string runs from one quote to
// the next, and a key is a string followed by a colon: all of them are
// found without decoding. A b with a backslash is never plain. Strings
// taken for keys that are not (in invalid JSON) only make it stricter.
func plainBody(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false
	}
	for i := 0; ; {
		open := bytes.IndexByte(b[i:], '"')
		if open < 0 {
			return true
		}
		from := i + open + 1
		n := bytes.IndexByte(b[from:], '"')
		if n < 0 {
			return false
		}
		str, after := b[from:from+n], from+n+1
		i = after
		colon := skipSpace(b, after)
		if colon >= len(b) || b[colon] != ':' {
			continue // a value
		}
		switch string(str) {
		case "sys", "fatal$":
			return false
		case "role":
			v := skipSpace(b, colon+1)
			if v >= len(b) || b[v] != '"' {
				return false // not a string: let the decoded message tell
			}
			n := bytes.IndexByte(b[v+1:], '"')
			if n < 0 || systemRoles[string(b[v+1:v+1+n])] {
				return false
			}
			i = v + 1 + n + 1
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// jsString renders the string and array values a role can have as
// JavaScript's String does; other values never name a system role.
func jsString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = jsString(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// Host file paths never leave in an error reply: stack lines a Seneca peer
// put in details, and absolute paths in error texts (an *fs.PathError's).
var (
	absPath  = regexp.MustCompile(`(^|[\s"'(\[=,;<])/[\w.@+~-]+(?:/[\w.@+~-]*)+`)
	winPath  = regexp.MustCompile(`\b[A-Za-z]:\\[^\s"'()]+`)
	dropKeys = []string{"errline", "callpoint", "stack", "errstack"}
)

func redact(s string) string {
	if !strings.ContainsAny(s, `/\`) {
		return s
	}
	s = absPath.ReplaceAllString(s, "${1}[path]")
	return winPath.ReplaceAllString(s, "[path]")
}

func redactValue(v any) any {
	switch v := v.(type) {
	case string:
		return redact(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = redactValue(x)
		}
		return out
	case stoa.Msg:
		return redactValue(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactValue(x)
		}
		return out
	}
	return v
}

// scrub returns the error as it may leave the host: paths redacted, stack
// lines dropped, and the cause reduced to its text (and code).
func scrub(e *stoa.Error) *stoa.Error {
	out := &stoa.Error{Code: e.Code, Message: redact(e.Message), Pattern: e.Pattern}
	if len(e.Details) > 0 {
		d := redactValue(e.Details).(map[string]any)
		for _, k := range dropKeys {
			delete(d, k)
		}
		out.Details = d
	}
	if e.Err != nil {
		c := &cause{text: redact(e.Err.Error())}
		var se *stoa.Error
		if errors.As(e.Err, &se) {
			c.code = se.Code
		}
		out.Err = c
	}
	return out
}

// cause stands for an error's cause in a reply: its text, and the code of
// the *stoa.Error it was, if any (which MarshalJSON writes as orig.code).
type cause struct{ text, code string }

func (c *cause) Error() string { return c.text }

func (c *cause) As(target any) bool {
	p, ok := target.(**stoa.Error)
	if !ok || c.code == "" {
		return false
	}
	*p = &stoa.Error{Code: c.code}
	return true
}

func randomID(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
