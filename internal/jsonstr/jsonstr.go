// Package jsonstr writes Go strings as JSON strings without reflection,
// byte for byte as encoding/json does. The mesh's message encoder and the
// gateway's event encoder share it.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// plain and html mark the ASCII bytes written as they are: everything from
// 0x20 up but the quote and the backslash; html also escapes <, > and &.
var plain, html = safeSet(""), safeSet("<>&")

func safeSet(alsoEscaped string) (set [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		set[c] = true
	}
	set['"'], set['\\'] = false, false
	for _, c := range alsoEscaped {
		set[c] = false
	}
	return set
}

// Append appends s to b as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped, and with escapeHTML also <, > and &, as json.Marshal writes it
// (without escapeHTML, as a json.Encoder with SetEscapeHTML(false) does).
func Append(b []byte, s string, escapeHTML bool) []byte {
	safe := &plain
	if escapeHTML {
		safe = &html
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029': // valid JSON, but not JavaScript
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
