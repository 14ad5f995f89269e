package stoa

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// msgJSONCases are messages for the decoder: ordinary ones, and the corners
// where encoding/json has a rule of its own.
var msgJSONCases = []string{
	`{}`,
	` {"role":"calculator","cmd":"add","operands":[7,3]} `,
	`{"a":1,"a":{"b":2},"a":[1,"x",true,false,null,{}]}`,
	`{"n":[0,-0,1.5,-2e3,1E+2,1e-400,123456789012345678901234567890,0.1e1]}`,
	`{"big":1e400}`,
	`{"s":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"}`,
	`{"lone":"\ud83d x","lone2":"\ude00","pair-ish":"\ud83d\u0041","bad-next":"\ud83d\uZZZZ"}`,
	"{\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\",\"bad\":\"a\xffb\xc3\"}",
	"{\"\xff\":1}",
	"{\"ctl\":\"a\x01b\"}",
	`{"esc":"\x"}`,
	`{"a":[1,2,]}`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`,
	`{"a":tru}`, `{"a":nul}`, `{"a":"x}`, `{"a":1} x`, `{"a":1}}`, `[1]`, `null`, `"x"`, `5`, ``, `  `,
	"\t{\n\"a\"\r:\n[ 1 , { \"b\" : null } ]\n}\n",
	`{"a":` + strings.Repeat(`[`, 9998) + strings.Repeat(`]`, 9998) + `}`,
	`{"a":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`,
	`{"a":` + strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000) + `}`,
	`{"a8":[1,2,3,4,5,6,7,8],"a9":[1,2,3,4,5,6,7,8,9],"a17":[[],{},1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}`,
	`{"long":"` + strings.Repeat("x", shareBelow) + `","k\u00e9":"v"}`,
}

// TestParseMsgJSON compares the decoder with encoding/json on the cases.
func TestParseMsgJSON(t *testing.T) {
	for _, src := range msgJSONCases {
		if msg := checkParseMsgJSON(src); msg != "" {
			t.Errorf("%.80q: %s", src, msg)
		}
	}
	// Sharing the message's copy must not change what a decode gives.
	m, ok := parseMsgJSON([]byte(`{"k":"v"}`))
	if !ok || m["k"] != "v" {
		t.Errorf(`parseMsgJSON({"k":"v"}) = %v, %v`, m, ok)
	}
}

// FuzzParseMsgJSON checks the decoder against encoding/json, the slow
// reference: they decode the same messages to the same values.
func FuzzParseMsgJSON(f *testing.F) {
	for _, src := range msgJSONCases {
		if len(src) < 1000 {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		if msg := checkParseMsgJSON(src); msg != "" {
			t.Errorf("%q: %s", src, msg)
		}
	})
}

// checkParseMsgJSON returns what is wrong with parseMsgJSON's answer for
// src, or "".
func checkParseMsgJSON(src string) string {
	got, ok := parseMsgJSON([]byte(src))
	var want Msg
	err := json.Unmarshal([]byte(src), &want)
	if err == nil && want == nil {
		err = errNotObject
	}
	switch {
	case ok && err != nil:
		return "decoded " + describeAny(got) + "; encoding/json: " + err.Error()
	case !ok && err == nil:
		return "not decoded; encoding/json: " + describeAny(want)
	case ok && !reflect.DeepEqual(got, want):
		return "decoded " + describeAny(got) + ", encoding/json " + describeAny(want)
	}
	return ""
}

var errNotObject = &Error{Code: CodeInvalidJSON, Message: "null"}

func describeAny(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	if len(b) > 200 {
		b = append(b[:200], "…"...)
	}
	return string(b)
}
