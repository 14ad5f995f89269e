package stoa

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseMsgJSON decodes a JSON object into a Msg as encoding/json decodes
// it into a map[string]any: numbers as float64 (as in JavaScript), nested
// objects as map[string]any, arrays as []any, the last of duplicate keys
// winning, invalid UTF-8 and lone surrogates as U+FFFD. It is the hot path
// of every act that arrives as JSON, where encoding/json's reflection was
// most of the cost (RATIONALE.md, "Decoding messages without reflection"). It reports false
// for anything it does not decode (invalid JSON, not an object, nesting
// deeper than encoding/json allows), and the caller then asks encoding/json,
// which gives the error; FuzzParseMsgJSON checks that both agree.
func parseMsgJSON(b []byte) (Msg, bool) {
	d := msgDecoder{b: b}
	if len(b) <= shareBelow {
		d.src = string(b)
		d.shared = true
	}
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return nil, false
	}
	m, ok := d.object(Msg{})
	if !ok {
		return nil, false
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return nil, false
	}
	return m, true
}

// shareBelow: a message up to this size is copied to one string, and the
// strings decoded from it that need no unescaping are slices of that copy
// (one allocation instead of one per key and value). A string kept from
// such a message keeps the whole copy alive, so larger messages get a
// string of their own for each.
const shareBelow = 4 << 10

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

type msgDecoder struct {
	b      []byte
	src    string // b as a string, when shared
	shared bool
	i      int
	depth  int
}

func (d *msgDecoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object decodes the object at d.i, which is '{', into m.
func (d *msgDecoder) object(m map[string]any) (map[string]any, bool) {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	d.i++ // {
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		d.depth--
		return m, true
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.skipSpace()
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case '}':
			d.i++
			d.depth--
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *msgDecoder) array() ([]any, bool) {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	d.i++ // [
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		d.depth--
		return []any{}, true
	}
	// Short arrays are gathered on the stack and allocated once.
	var buf [8]any
	n := 0
	var a []any // once buf is full
	for {
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		switch {
		case a != nil:
			a = append(a, v)
		case n < len(buf):
			buf[n] = v
			n++
		default:
			a = make([]any, n, 2*n)
			copy(a, buf[:n])
			a = append(a, v)
		}
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case ']':
			d.i++
			d.depth--
			if a == nil {
				a = make([]any, n)
				copy(a, buf[:n])
			}
			return a, true
		default:
			return nil, false
		}
	}
}

// value decodes the value at d.i; space before it is already skipped.
func (d *msgDecoder) value() (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == '{':
		m, ok := d.object(map[string]any{})
		return m, ok
	case c == '[':
		a, ok := d.array()
		return a, ok
	case c == 't':
		return true, d.word("true")
	case c == 'f':
		return false, d.word("false")
	case c == 'n':
		return nil, d.word("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

func (d *msgDecoder) word(w string) bool {
	if len(d.b)-d.i < len(w) || string(d.b[d.i:d.i+len(w)]) != w {
		return false
	}
	d.i += len(w)
	return true
}

// number decodes a number in JSON's grammar as a float64.
func (d *msgDecoder) number() (any, bool) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if !d.digits() {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return nil, false
		}
	}
	var f float64
	var err error
	if d.shared {
		f, err = strconv.ParseFloat(d.src[start:d.i], 64)
	} else {
		f, err = strconv.ParseFloat(string(d.b[start:d.i]), 64)
	}
	if err != nil {
		return nil, false // out of range: encoding/json fails too
	}
	return f, true
}

// digits skips one or more decimal digits and reports whether there was one.
func (d *msgDecoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// str decodes the string at d.i, which is '"'.
func (d *msgDecoder) str() (string, bool) {
	d.i++
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.slice(start, d.i)
			d.i++
			return s, true
		case c == '\\' || c < ' ' || c >= utf8.RuneSelf:
			return d.unquote(start)
		}
		d.i++
	}
	return "", false
}

// slice returns b[from:to] as a string, sharing the message's copy when
// there is one.
func (d *msgDecoder) slice(from, to int) string {
	if d.shared {
		return d.src[from:to]
	}
	return string(d.b[from:to])
}

// unquote decodes the rest of a string that has escapes, control
// characters or non-ASCII bytes, from start (just after its opening quote).
func (d *msgDecoder) unquote(start int) (string, bool) {
	i := d.i
	// Valid UTF-8 without escapes can still be shared.
	for i < len(d.b) {
		c := d.b[i]
		if c == '"' {
			d.i = i + 1
			return d.slice(start, i), true
		}
		if c == '\\' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(d.b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	out := make([]byte, i-start, i-start+16)
	copy(out, d.b[start:i])
	for i < len(d.b) {
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(out), true
		case c < ' ':
			return "", false
		case c == '\\':
			i++
			if i >= len(d.b) {
				return "", false
			}
			switch e := d.b[i]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i++
			case 'b':
				out = append(out, '\b')
				i++
			case 'f':
				out = append(out, '\f')
				i++
			case 'n':
				out = append(out, '\n')
				i++
			case 'r':
				out = append(out, '\r')
				i++
			case 't':
				out = append(out, '\t')
				i++
			case 'u':
				r, ok := hex4(d.b, i+1)
				if !ok {
					return "", false
				}
				i += 5
				if utf16.IsSurrogate(r) {
					// A pair decodes to one rune; a lone half is U+FFFD,
					// and what follows it is decoded on its own.
					if i+1 < len(d.b) && d.b[i] == '\\' && d.b[i+1] == 'u' {
						if r2, ok := hex4(d.b, i+2); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(d.b[i:])
			i += size
			out = utf8.AppendRune(out, r) // an invalid byte is RuneError: U+FFFD
		}
	}
	return "", false
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
