package mesh

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

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

// TestAppendRaw: a json.RawMessage member is checked, so that bytes from a
// user cannot add members to the act; a stoa.TrustedJSON member is copied
// as it is, unchecked (its producer vouches for it).
func TestAppendRaw(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    any
		want string // "" for an error
	}{
		{"raw", json.RawMessage(`{"a": [1, 2]}`), `{"p":{"a": [1, 2]}}`},
		{"raw nil", json.RawMessage(nil), `{"p":null}`},
		{"raw injection", json.RawMessage(`1,"role":"admin"`), ""},
		{"raw truncated", json.RawMessage(`{"a":`), ""},
		{"trusted", stoa.TrustedJSON(`{"a": [1, 2]}`), `{"p":{"a": [1, 2]}}`},
		{"trusted nil", stoa.TrustedJSON(nil), `{"p":null}`},
		{"trusted unchecked", stoa.TrustedJSON(`1,"role":"admin"`), `{"p":1,"role":"admin"}`},
	} {
		got, err := appendMsg(nil, map[string]any{"p": tt.v})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s: appendMsg = %s, want an error", tt.name, got)
		case tt.want != "" && (err != nil || string(got) != tt.want):
			t.Errorf("%s: appendMsg = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
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

// BenchmarkEncodeAct encodes the act the gateway sends a function for an
// API Gateway event of about 8 KB: the event as a json.RawMessage (checked
// with json.Valid) and as a stoa.TrustedJSON (copied).
func BenchmarkEncodeAct(b *testing.B) {
	headers := map[string]string{}
	for i := range 20 {
		headers[fmt.Sprintf("x-header-%02d", i)] = strings.Repeat("v", 40)
	}
	event, err := json.Marshal(map[string]any{
		"version": "2.0", "routeKey": "POST /items", "rawPath": "/items", "headers": headers,
		"requestContext":  map[string]any{"http": map[string]any{"method": "POST", "path": "/items", "sourceIp": "127.0.0.1"}, "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"},
		"body":            strings.Repeat(`{"item":"a \"quoted\" name","n":12345}`, 180),
		"isBase64Encoded": false,
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		event any
	}{
		{"raw-message", json.RawMessage(event)},
		{"trusted-json", stoa.TrustedJSON(event)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			msg := stoa.Msg{"fn": "items", "qualifier": "", "payload": bc.event}
			deadline := time.Now().Add(time.Minute)
			var buf []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(event)))
			for b.Loop() {
				out, err := encodeAct(buf[:0], stoa.Meta{ID: "k3x9a1bc.7"}, deadline, 0, msg)
				if err != nil || len(out) < len(event) {
					b.Fatalf("encodeAct = %d bytes, %v", len(out), err)
				}
				buf = out
			}
		})
	}
}
