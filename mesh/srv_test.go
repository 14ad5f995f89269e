package mesh_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// gather sends a request on subj and collects the replies that come within
// a quiet window, as natscli does for the service API.
func gather(t *testing.T, nc *nats.Conn, subj string) [][]byte {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subj, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		m, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return out
		}
		out = append(out, m.Data)
	}
}

// TestServiceAPI: nodes are services of the NATS service API. A plain
// client sees, through the $SRV protocol, every node, its pins as endpoints
// with their patterns, and the acts each served.
func TestServiceAPI(t *testing.T) {
	s := natstest.Server(t)
	add := newProvider(t, s, "adder", "role:calc,cmd:add", mesh.WithIdempotentPins("role:calc,cmd:add"))
	newProvider(t, s, "subtracter", "role:calc,cmd:sub")
	caller := newEngine(t)
	join(t, s, caller, mesh.WithName("caller"))
	for range 5 {
		if _, err := caller.Act(t.Context(), "role:calc,cmd:add"); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	var names []string
	for _, b := range gather(t, nc, "$SRV.PING") {
		var p micro.Ping
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		names = append(names, p.Name)
	}
	slices.Sort(names)
	if want := []string{"adder", "caller", "subtracter"}; !slices.Equal(names, want) {
		t.Errorf("$SRV.PING answered by %v, want %v", names, want)
	}

	infos := gather(t, nc, "$SRV.INFO.adder")
	if len(infos) != 1 {
		t.Fatalf("$SRV.INFO.adder: %d replies, want 1", len(infos))
	}
	var info micro.Info
	if err := json.Unmarshal(infos[0], &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != add.node.ID() || len(info.Endpoints) != 1 {
		t.Fatalf("info = %+v, want node %s with one endpoint", info, add.node.ID())
	}
	ep := info.Endpoints[0]
	for _, c := range []struct{ field, got, want string }{
		{"name", ep.Name, "cmd-add_role-calc"},
		{"subject", ep.Subject, "stoa.act.cmd:add,role:calc"},
		{"queue group", ep.QueueGroup, "stoa"},
		{"metadata pattern", ep.Metadata["pattern"], "cmd:add,role:calc"},
		{"metadata idempotent", ep.Metadata["idempotent"], "true"},
	} {
		if c.got != c.want {
			t.Errorf("endpoint %s = %q, want %q", c.field, c.got, c.want)
		}
	}

	stats := gather(t, nc, "$SRV.STATS.adder")
	if len(stats) != 1 {
		t.Fatalf("$SRV.STATS.adder: %d replies, want 1", len(stats))
	}
	var st micro.Stats
	if err := json.Unmarshal(stats[0], &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Endpoints) != 1 || st.Endpoints[0].NumRequests != 5 {
		t.Errorf("stats endpoints = %+v, want one with 5 requests", st.Endpoints)
	}

	// A plain NATS request on the pin's subject is an act, too.
	m, err := nc.Request(ep.Subject, []byte(`{"role":"calc","cmd":"add"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"by":"adder"}` {
		t.Errorf("plain request replied %s", m.Data)
	}
}

// TestList: List reports every live node with its pins and the acts it
// served, and Pins sums them per pattern.
func TestList(t *testing.T) {
	s := natstest.Server(t)
	newProvider(t, s, "adder", "role:calc,cmd:add")
	newProvider(t, s, "adder", "role:calc,cmd:add")
	newProvider(t, s, "subtracter", "role:calc,cmd:sub")
	caller := newEngine(t)
	join(t, s, caller, mesh.WithName("caller"))
	for range 4 {
		if _, err := caller.Act(t.Context(), "role:calc,cmd:sub"); err != nil {
			t.Fatal(err)
		}
	}
	peers, err := mesh.List(t.Context(), mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range peers {
		names = append(names, p.Name)
	}
	if want := []string{"adder", "adder", "caller", "subtracter"}; !slices.Equal(names, want) {
		t.Errorf("List names = %v, want %v", names, want)
	}
	got := mesh.Pins(peers)
	want := []mesh.PinCount{{Pattern: "cmd:add,role:calc", Providers: 2}, {Pattern: "cmd:sub,role:calc", Providers: 1, Acts: 4}}
	if !slices.Equal(got, want) {
		t.Errorf("Pins = %+v, want %+v", got, want)
	}
}
