package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppend: Append writes exactly what encoding/json writes for any
// string, with and without HTML escaping.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "<>&", "a\"b\\c\n", "\n\r\t\b\f\x00\x1f\x7f", "é\u2028\u2029", "é☃\u2028", "\xff", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, escapeHTML := range []bool{true, false} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(escapeHTML)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			if got := Append(nil, s, escapeHTML); string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
				t.Errorf("Append(%q, escapeHTML %v) = %s, want %s", s, escapeHTML, got, want.Bytes())
			}
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	s := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = Append(buf[:0], s, true)
	}
}
