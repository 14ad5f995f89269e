package mesh

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stoaproject/stoa"

	"github.com/stoaproject/stoa/internal/jsonstr"
)

// metaKey is the member of an act's JSON that carries its metadata across
// the hop; it is always the first, and a message's own member of that
// name is dropped (RATIONALE.md, "Metadata on the wire").
const metaKey = "stoa$"

// encodeAct writes the JSON a node sends for an act: the metadata first,
// as "stoa$":"id tx parent caller ms-left [hops]" ("-" for an empty field,
// %XX for a space, quote, backslash, percent or control byte in one), then
// the message's members.
func encodeAct(b []byte, m stoa.Meta, deadline time.Time, hops int, msg map[string]any) ([]byte, error) {
	b = append(b, `{"`+metaKey+`":"`...)
	for _, f := range []string{m.ID, m.TxID, m.ParentID, m.Caller} {
		b = appendField(b, f)
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, max(time.Until(deadline).Milliseconds(), 1), 10)
	if hops > 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(hops), 10)
	}
	b = append(b, '"')
	return appendMembers(b, msg, false)
}

func appendField(b []byte, s string) []byte {
	if s == "" || s == "-" {
		if s == "" {
			return append(b, '-')
		}
		return append(b, "%2D"...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == '"' || c == '\\' || c == '%' || c >= 0x7f:
			b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// decodeAct splits what encodeAct wrote into the metadata, the
// milliseconds left (0 if not given), the hops so far and the message's
// JSON, which it writes over data. A message sent by a plain NATS client, without metadata, comes back
// as it is.
func decodeAct(data []byte) (m stoa.Meta, ms int64, hops int, body []byte) {
	const prefix = `{"` + metaKey + `":"`
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return m, 0, 0, data
	}
	end := bytes.IndexByte(data[len(prefix):], '"')
	if end < 0 {
		return m, 0, 0, data
	}
	v := string(data[len(prefix) : len(prefix)+end])
	rest := data[len(prefix)+end+1:]
	switch {
	case len(rest) > 0 && rest[0] == ',':
		rest[0] = '{' // data is the node's own copy of the message: no second copy
		body = rest
	default:
		body = []byte("{}")
	}
	var f [6]string
	for i := range f {
		var ok bool
		if f[i], v, ok = strings.Cut(v, " "); !ok {
			break
		}
	}
	unfield := func(s string) string {
		if s == "-" {
			return ""
		}
		if strings.IndexByte(s, '%') >= 0 {
			if u, err := url.PathUnescape(s); err == nil {
				return u
			}
		}
		return s
	}
	m = stoa.Meta{ID: unfield(f[0]), TxID: unfield(f[1]), ParentID: unfield(f[2]), Caller: unfield(f[3])}
	ms, _ = strconv.ParseInt(f[4], 10, 64)
	if f[5] != "" {
		hops, _ = strconv.Atoi(f[5])
	}
	return m, ms, hops, body
}

// appendMsg appends m as JSON, keys sorted as encoding/json sorts them. It
// writes the types a decoded or hand-built message holds (strings,
// numbers, booleans, null, slices and maps of them, raw JSON, checked
// unless it is a stoa.TrustedJSON) without
// reflection, which made encoding/json the largest cost of sending an act;
// for any other value it falls back to encoding/json, so the result is
// always what json.Marshal would accept, if not byte for byte what it
// would write (it does not escape <, > and &).
func appendMsg(b []byte, m map[string]any) ([]byte, error) {
	return appendMembers(append(b, '{'), m, true)
}

// appendMembers appends m's members and the closing brace; first says
// whether the object has no member yet. At the top of an act (first
// false), a member named metaKey is left out.
func appendMembers(b []byte, m map[string]any, first bool) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		if !first && k == metaKey {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 || !first {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k, false)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return jsonstr.Append(b, v, false), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return appendFloat(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case json.Number:
		if v == "" {
			return append(b, '0'), nil
		}
		if !json.Valid([]byte(v)) {
			break
		}
		return append(b, v...), nil
	case json.RawMessage:
		// The bytes may come from a user: unchecked, `1,"role":"x"` would
		// add members to the act. encoding/json reports invalid ones.
		if v == nil || !json.Valid(v) {
			break
		}
		return append(b, v...), nil
	case stoa.TrustedJSON:
		// Valid by its producer's word (an encoder's output, such as the
		// gateway's events): copied without json.Valid's pass over it.
		if v == nil {
			return append(b, "null"...), nil
		}
		return append(b, v...), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendMsg(b, v)
	case stoa.Msg:
		if v == nil {
			return append(b, "{}"...), nil // as Msg.MarshalJSON writes it
		}
		return appendMsg(b, v)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []float64:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendFloat(b, f); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, s, false)
		}
		return append(b, ']'), nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

// appendFloat writes f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10), nil // what follows would write the same, slower
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
