package compare

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestWriteRead(t *testing.T) {
	in := []Line{
		{Name: "http/inflight=32", What: "acts/s", Unit: "acts/s", Peer: "seneca 3.38.0", PeerValue: 2291.4, StoaValue: 29123.7, Ratio: 12.7101, Goal: 20, Rounds: 3},
		{Name: "fn/cold", Unit: "ms", StoaValue: 0.012345},
	}
	var buf bytes.Buffer
	buf.WriteString("=== RUN TestCompare\nnot a compare line\n")
	if err := Write(&buf, in...); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("PASS\n")
	got, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{Name: "http/inflight=32", What: "acts/s", Unit: "acts/s", Peer: "seneca 3.38.0", PeerValue: 2290, StoaValue: 29100, Ratio: 12.71, Goal: 20, Rounds: 3},
		{Name: "fn/cold", Unit: "ms", StoaValue: 0.0123},
	}
	if len(got) != len(want) {
		t.Fatalf("Read = %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadBadLine(t *testing.T) {
	_, err := Read(strings.NewReader(Prefix + "{not json\n"))
	if err == nil || !strings.Contains(err.Error(), "bad compare: line") {
		t.Errorf("Read of a broken line: err = %v", err)
	}
}

func TestStringNaN(t *testing.T) {
	s := Line{Name: "x", Ratio: math.NaN()}.String()
	if !strings.HasPrefix(s, Prefix) || !strings.Contains(s, `"error"`) {
		t.Errorf("String with NaN = %q, want a compare line naming the error", s)
	}
}

func TestRound3(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 0}, {1234.5, 1230}, {0.0478123, 0.0478}, {-98765, -98800}, {3, 3},
	} {
		if got := Round3(c.in); got != c.want {
			t.Errorf("Round3(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		peer, stoa float64
		lower      bool
		want       float64
	}{
		{200, 100, true, 2},    // Stoa's latency is half the peer's
		{100, 200, false, 2},   // Stoa's throughput is twice the peer's
		{100, 0, true, 0},      // nothing measured
		{0, 100, false, 0},     // likewise
		{300, 600, true, 0.5},  // Stoa slower
		{600, 300, false, 0.5}, // Stoa has less throughput
	} {
		if got := Ratio(c.peer, c.stoa, c.lower); got != c.want {
			t.Errorf("Ratio(%v, %v, %v) = %v, want %v", c.peer, c.stoa, c.lower, got, c.want)
		}
	}
}
