package mesh

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
)

// TestEncodeAct: the metadata and the message survive the wire, whatever
// the metadata's fields hold; a member named stoa$ is the mesh's.
func TestEncodeAct(t *testing.T) {
	for _, c := range []struct {
		meta stoa.Meta
		hops int
		msg  map[string]any
	}{
		{stoa.Meta{ID: "abc.1", TxID: "abc.1", Caller: "abcdefgh"}, 0, map[string]any{"role": "calc", "cmd": "add", "operands": []float64{7, 3}}},
		{stoa.Meta{ID: "a.2", TxID: "a.1", ParentID: "a.1", Caller: "c"}, 3, map[string]any{}},
		{stoa.Meta{ID: "with space", TxID: "-", ParentID: "100%", Caller: "q\"u\\o\x01é"}, 1, map[string]any{"stoa$": "theirs", "a": 1.0}},
		{stoa.Meta{}, 0, map[string]any{"nested": map[string]any{"stoa$": "kept"}}},
	} {
		data, err := encodeAct(nil, c.meta, time.Now().Add(time.Second), c.hops, c.msg)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Fatalf("encodeAct wrote invalid JSON: %s", data)
		}
		got, ms, hops, body := decodeAct(data)
		if got != c.meta || hops != c.hops || ms < 900 || ms > 1000 {
			t.Errorf("%s: got %+v, %d ms, %d hops; want %+v, ~1000 ms, %d hops", data, got, ms, hops, c.meta, c.hops)
		}
		want := maps.Clone(c.msg)
		delete(want, "stoa$")
		var gotMsg map[string]any
		if err := json.Unmarshal(body, &gotMsg); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(gotMsg)
		if string(gb) != string(wb) {
			t.Errorf("body = %s, want %s", gb, wb)
		}
	}
	// A plain NATS client's message has no metadata and passes as it is.
	if m, ms, hops, body := decodeAct([]byte(`{"role":"x"}`)); m != (stoa.Meta{}) || ms != 0 || hops != 0 || string(body) != `{"role":"x"}` {
		t.Errorf("plain message: %+v %d %d %s", m, ms, hops, body)
	}
}

// TestSubjects: pins map to subjects and endpoint names NATS accepts.
func TestSubjects(t *testing.T) {
	for _, c := range []struct{ canon, subject, name string }{
		{"cmd:add,role:calculator", "stoa.act.cmd:add,role:calculator", "cmd-add_role-calculator"},
		{"role:calc,v:1.2", "stoa.act.h", "role-calc_v-1_2"},
		{"cmd:*,role:x", "stoa.act.h", "cmd-__role-x"},
		{"", "stoa.act.h", "all"},
	} {
		got := subjectFor(c.canon)
		if c.subject == "stoa.act.h" {
			if len(got) != len("stoa.act.h")+24 || got[:10] != "stoa.act.h" {
				t.Errorf("subjectFor(%q) = %q, want a hashed subject", c.canon, got)
			}
		} else if got != c.subject {
			t.Errorf("subjectFor(%q) = %q, want %q", c.canon, got, c.subject)
		}
		if got := endpointName(c.canon); got != c.name {
			t.Errorf("endpointName(%q) = %q, want %q", c.canon, got, c.name)
		}
	}
}
