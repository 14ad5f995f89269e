package mesh

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/stoaproject/stoa"
)

// TestAppendMsg: the fast encoder writes JSON that decodes to what
// encoding/json's does, for every type it handles itself.
func TestAppendMsg(t *testing.T) {
	for _, m := range []map[string]any{
		{},
		{"role": "calculator", "cmd": "add", "operands": []float64{7, 3}},
		{"s": "quote\" back\\ nl\n tab\t ctl\x01 uni é ☃ \u2028 bad\xff", "b": true, "n": nil},
		{"f": 1.5, "big": 1e21, "tiny": 1e-7, "neg": -0.25, "i": 42, "i64": int64(-7), "num": json.Number("12.5")},
		{"nested": map[string]any{"z": 1.0, "a": []any{"x", 2.0, nil, map[string]any{}}}, "msg": stoa.Msg{"k": "v"}},
		{"raw": json.RawMessage(`{"a":[1,2]}`), "strs": []string{"a", "b"}, "nilslice": []any(nil)},
		{"struct": struct{ A int }{1}, "ptr": &struct{ B string }{"x"}},
	} {
		got, err := appendMsg(nil, m)
		if err != nil {
			t.Fatalf("appendMsg(%v): %v", m, err)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendMsg(%v) = %s: not JSON: %v", m, got, err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("appendMsg(%v) = %s, want (as JSON) %s", m, got, want)
		}
	}
	if _, err := appendMsg(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN encoded without an error")
	}
}

// FuzzAppendString: any string round-trips through JSON as encoding/json
// would decode it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n", "\xff\xfe", "é☃\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("appendString(%q) is not a JSON string: %v", s, err)
		}
		b, _ := json.Marshal(s)
		json.Unmarshal(b, &want)
		if got != want {
			t.Errorf("appendString(%q) decodes to %q, encoding/json's to %q", s, got, want)
		}
	})
}

// FuzzAppendFloat: numbers are written byte for byte as encoding/json
// writes them, including the integers the fast path writes.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 7, -3, 1e15 - 1, 1e15, 1e21, 1.5, 1e-7, -0.25, 123456789012345, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		want, err := json.Marshal(v)
		got, gerr := appendFloat(nil, v)
		if (err != nil) != (gerr != nil) || string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, %v; encoding/json: %s, %v", v, got, gerr, want, err)
		}
	})
}
