package stoahttp

import (
	"encoding/json"
	"maps"
	"net/url"
	"strconv"
	"strings"

	"github.com/stoaproject/stoa"
)

// decodeMessage builds the message of a request as a Seneca listener does:
// the JSON body (empty means {}, an array becomes {"0":…,"1":…}), then the
// message in the msg$ query parameter (Seneca's string form), then the
// other query parameters, each layer replacing the keys of the one before.
// Errors are *requestError (status 400).
func decodeMessage(body []byte, rawQuery string, maxDepth int) (stoa.Msg, error) {
	msg, err := decodeBody(body, maxDepth)
	if err != nil {
		return nil, err
	}
	if rawQuery == "" {
		return msg, nil
	}
	q := parseQuery(rawQuery)
	if v, ok := q["msg$"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(stoa.CodeMsgSyntax, "the msg$ query parameter must be given once, as a string")
		}
		m, err := parseJsonic(s)
		if err != nil {
			return nil, badRequest(stoa.CodeMsgSyntax, "the msg$ query parameter does not parse: %s", errorText(err))
		}
		if depth(m, maxDepth) > maxDepth {
			return nil, tooDeep(maxDepth)
		}
		maps.Copy(msg, m)
	}
	maps.Copy(msg, q)
	return msg, nil
}

func errorText(err error) string {
	if se, ok := err.(*stoa.Error); ok {
		return se.Message
	}
	return err.Error()
}

func tooDeep(max int) *requestError {
	return badRequest(stoa.CodeInvalidJSON, "message nests objects and arrays deeper than the limit of %d", max)
}

// decodeBody decodes a request body into a message.
func decodeBody(body []byte, maxDepth int) (stoa.Msg, error) {
	b := trimSpace(body)
	if len(body) == 0 {
		return stoa.Msg{}, nil
	}
	if nestsDeeper(b, maxDepth) {
		return nil, tooDeep(maxDepth)
	}
	var first byte
	if len(b) > 0 {
		first = b[0]
	}
	switch first {
	case '{':
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, malformed(err)
		}
		return m, nil
	case '[':
		var a []any
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, malformed(err)
		}
		m := make(stoa.Msg, len(a))
		for i, v := range a {
			m[strconv.Itoa(i)] = v
		}
		return m, nil
	}
	if !json.Valid(b) {
		return nil, badRequest(stoa.CodeInvalidJSON, "request body is not valid JSON")
	}
	return nil, badRequest(stoa.CodeInvalidJSON, "request body is JSON but not an object")
}

func malformed(err error) *requestError {
	return badRequest(stoa.CodeInvalidJSON, "request body is not valid JSON: %v", err)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// nestsDeeper reports whether the JSON in b opens more than max objects and
// arrays inside each other, without decoding it: decoding (and later
// matching, validating and encoding) deep input costs stack and time.
func nestsDeeper(b []byte, max int) bool {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// depth is how deeply v's objects and arrays nest, counting no further than
// max+1.
func depth(v any, max int) int {
	if max < 0 {
		return 0
	}
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			d = maxInt(d, depth(x, max-1))
		}
		return d + 1
	case stoa.Msg:
		return depth(map[string]any(v), max)
	case []any:
		for _, x := range v {
			d = maxInt(d, depth(x, max-1))
		}
		return d + 1
	}
	return 0
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// maxBrackets is how many [key] parts of a query key nest, as qs's default.
const maxBrackets = 5

// parseQuery reads a query string as Seneca's listener does (it uses the qs
// package): values stay strings, a repeated key gives an array, and a[b]=1
// and a[]=1 build objects and arrays. A part that does not unescape is kept
// as it is.
func parseQuery(raw string) map[string]any {
	q := map[string]any{}
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescape(k), unescape(v)
		if k == "" {
			continue
		}
		assign(q, splitKey(k), v)
	}
	return q
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// splitKey splits a[b][c] into a, b, c; a[] gives a and "" (append).
func splitKey(k string) []string {
	open := strings.IndexByte(k, '[')
	if open <= 0 || !strings.Contains(k[open:], "]") {
		return []string{k}
	}
	segs := []string{k[:open]}
	rest := k[open:]
	for len(segs) <= maxBrackets && strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break
		}
		segs = append(segs, rest[1:end])
		rest = rest[end+1:]
	}
	if rest != "" {
		segs[len(segs)-1] += rest
	}
	return segs
}

func assign(m map[string]any, segs []string, v string) {
	k := segs[0]
	switch {
	case len(segs) == 1:
		switch old := m[k].(type) {
		case nil:
			m[k] = v
		case string:
			m[k] = []any{old, v}
		case []any:
			m[k] = append(old, v)
		default:
			m[k] = v
		}
	case len(segs) == 2 && segs[1] == "":
		switch old := m[k].(type) {
		case []any:
			m[k] = append(old, v)
		case string:
			m[k] = []any{old, v}
		default:
			m[k] = []any{v}
		}
	default:
		child, ok := m[k].(map[string]any)
		if !ok {
			child = map[string]any{}
			m[k] = child
		}
		assign(child, segs[1:], v)
	}
}

// parseJsonic parses a message in Seneca's string form.
func parseJsonic(s string) (stoa.Msg, error) {
	m, err := stoa.ParseMsg(s)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = stoa.Msg{}
	}
	return m, nil
}
