package mesh

import (
	"testing"
	"time"

	"github.com/stoaproject/stoa"
)

// TestActHeader: the metadata survives the Stoa-Act header, whatever its
// fields hold.
func TestActHeader(t *testing.T) {
	for _, c := range []struct {
		meta stoa.Meta
		hops int
	}{
		{stoa.Meta{ID: "abc.1", TxID: "abc.1", Caller: "abcdefgh"}, 0},
		{stoa.Meta{ID: "a.2", TxID: "a.1", ParentID: "a.1", Caller: "c", TraceParent: "00-x-y-01", TraceState: "k=v"}, 3},
		{stoa.Meta{ID: "with space", TxID: "-", ParentID: "100%", Caller: "a-b"}, 1},
		{stoa.Meta{}, 0},
	} {
		h := actHeader(c.meta, time.Now().Add(time.Second), c.hops)
		got, ms, hops := parseAct(h.Get(hdrAct))
		got.TraceParent, got.TraceState = h.Get(hdrTrace), h.Get(hdrTraceSt)
		if got != c.meta || hops != c.hops || ms < 900 || ms > 1000 {
			t.Errorf("Stoa-Act %q: got %+v, %d ms, %d hops; want %+v, ~1000 ms, %d hops", h.Get(hdrAct), got, ms, hops, c.meta, c.hops)
		}
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
