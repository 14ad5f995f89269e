package stoahttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/stoaproject/stoa"
)

// FuzzDecode feeds the listener's decoder arbitrary bodies and queries. It
// must never panic, must accept only what makes a message, and must agree
// with a slow reference on bodies without a query: a JSON object or array
// nested no deeper than the limit decodes to what encoding/json gives;
// anything else is a 400.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ body, query string }{
		{`{"role":"hello","cmd":"sayHello"}`, ""},
		{`{"role":"hello"}`, "cmd=sayHello&name=Q"},
		{``, "msg$=role:hello,cmd:sayHello,name:J&name=K"},
		{`[1,{"a":2}]`, "role=test"},
		{`{"a":[[[[[[[[[1]]]]]]]]]}`, ""},
		{`{"s":"\"[[[[[[[[[["}`, ""},
		{`{"role":`, ""},
		{`5`, ""},
		{`null`, ""},
		{` {"a":1} `, "a[b]=1&a[]=2&a=3"},
		{`{}`, "msg$=a:{b:{c:1}}"},
		{`{}`, "msg$=a:1&msg$=b:2"},
		{`{}`, "%zz=%&=x&&k"},
	} {
		f.Add([]byte(s.body), s.query)
	}
	const maxDepth = 8
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		msg, err := decodeMessage(body, query, maxDepth)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.status != 400 || re.err.Code == "" {
				t.Fatalf("decode(%q, %q): error %v, want a 400 requestError", body, query, err)
			}
		} else {
			if msg == nil {
				t.Fatalf("decode(%q, %q): nil message and no error", body, query)
			}
			if _, err := json.Marshal(msg); err != nil {
				t.Fatalf("decode(%q, %q) = %v, which does not encode: %v", body, query, msg, err)
			}
		}
		if query != "" {
			return
		}
		want, ok := decodeSlow(body, maxDepth)
		if ok != (err == nil) {
			t.Fatalf("decode(%q): error %v; the reference accepts it: %v", body, err, ok)
		}
		if ok {
			g, _ := json.Marshal(msg)
			w, _ := json.Marshal(want)
			if !bytes.Equal(g, w) {
				t.Fatalf("decode(%q) = %s, the reference gives %s", body, g, w)
			}
		}
	})
}

// decodeSlow is the reference: encoding/json's decoder, one value, and
// its depth measured on the decoded value.
func decodeSlow(body []byte, maxDepth int) (stoa.Msg, bool) {
	if len(body) == 0 {
		return stoa.Msg{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // more than one value
	}
	if depthSlow(v) > maxDepth {
		return nil, false
	}
	switch v := v.(type) {
	case map[string]any:
		return v, true
	case []any:
		m := stoa.Msg{}
		for i, x := range v {
			b, _ := json.Marshal(i)
			m[string(b)] = x
		}
		return m, true
	}
	return nil, false
}

func depthSlow(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			d = max(d, depthSlow(x))
		}
		return d + 1
	case []any:
		for _, x := range v {
			d = max(d, depthSlow(x))
		}
		return d + 1
	}
	return 0
}

// plainCases are bodies plainBody must refuse (the decoded message is a
// system one or has fatal$, or might) or may pass.
var plainCases = []struct {
	body  string
	plain bool
}{
	{`{"role":"math","cmd":"sum","left":1}`, true},
	{`{"a":{"role":"x"},"b":["role","sys"]}`, true},
	{`{"role":"seneca"}`, false},
	{`{ "role" : "mesh" }`, false},
	{`{"role":"math","role":"transport"}`, false},
	{`{"x":{"role":"options"}}`, false}, // nested: refused though harmless
	{`{"role":["seneca"]}`, false},
	{`{"role":5}`, false},
	{`{"sys":1}`, false},
	{`{"a":1,"fatal$":true}`, false},
	{`{"r\u006fle":"seneca"}`, false},
	{`{"role":"sen\u0065ca"}`, false},
	{`{"a":"\"role\":\"seneca\""}`, false},
	{`{"role":"seneca`, false},
	{`{"role"`, true}, // not JSON: the engine refuses it
}

func TestPlainBody(t *testing.T) {
	for _, tc := range plainCases {
		if got := plainBody([]byte(tc.body)); got != tc.plain {
			t.Errorf("plainBody(%s) = %v, want %v", tc.body, got, tc.plain)
		}
	}
}

// FuzzPlainBody checks what the listener relies on when it acts a plain
// body without decoding it: if plainBody passes a body that decodes, the
// decoded message is not a system message and has no fatal$.
func FuzzPlainBody(f *testing.F) {
	for _, tc := range plainCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !plainBody(body) {
			return
		}
		msg, ok := decodeSlow(body, maxDepthLimit)
		if !ok {
			return
		}
		if _, fatal := msg["fatal$"]; isSystem(msg) || fatal {
			t.Fatalf("plainBody(%q) = true, but the message %v is a system message or has fatal$", body, msg)
		}
	})
}
