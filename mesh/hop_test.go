package mesh_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestMetaCrossesTheHop: an act sent from inside a handler to a remote pin
// carries its chain across: the remote handler sees the local act as its
// parent, the same transaction, the caller's engine and trace context.
func TestMetaCrossesTheHop(t *testing.T) {
	s := natstest.Server(t)
	back := newEngine(t)
	back.Add("role:back", func(ctx context.Context, m stoa.Msg) (any, error) { return stoa.ContextMeta(ctx), nil })
	join(t, s, back, mesh.WithPins("role:back"))

	front := newEngine(t)
	var frontMeta stoa.Meta
	front.Add("role:front", func(ctx context.Context, m stoa.Msg) (any, error) {
		frontMeta = stoa.ContextMeta(ctx)
		return front.Act(ctx, "role:back")
	})
	join(t, s, front)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := stoa.WithMeta(t.Context(), stoa.Meta{TraceParent: tp, TraceState: "stoa=1"})
	out, err := front.Act(ctx, "role:front")
	if err != nil {
		t.Fatal(err)
	}
	var got stoa.Meta
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"parent", got.ParentID, frontMeta.ID},
		{"tx", got.TxID, frontMeta.TxID},
		{"caller", got.Caller, front.ID()},
		{"traceparent", got.TraceParent, tp},
		{"tracestate", got.TraceState, "stoa=1"},
	} {
		if c.got != c.want || c.want == "" {
			t.Errorf("remote %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if got.ID == "" || got.ID == frontMeta.ID {
		t.Errorf("remote act id %q, want its own (front's is %q)", got.ID, frontMeta.ID)
	}
}

// TestMetrics: the hop shows in both nodes' Prometheus metrics.
func TestMetrics(t *testing.T) {
	s := natstest.Server(t)
	preg, creg := prometheus.NewRegistry(), prometheus.NewRegistry()
	back := newEngine(t)
	back.Add("role:back", func(ctx context.Context, m stoa.Msg) (any, error) { return stoa.Msg{}, nil })
	join(t, s, back, mesh.WithPins("role:back"), mesh.WithName("back"), mesh.WithRegisterer(preg))
	caller := newEngine(t)
	join(t, s, caller, mesh.WithName("front"), mesh.WithRegisterer(creg))
	for range 3 {
		if _, err := caller.Act(t.Context(), "role:back"); err != nil {
			t.Fatal(err)
		}
	}
	caller.Act(t.Context(), "role:back,timeout$:-1,fail$:1") // still ok: the handler ignores it
	for _, c := range []struct {
		reg    *prometheus.Registry
		name   string
		labels map[string]string
		want   float64
	}{
		{creg, "stoa_mesh_acts_sent_total", map[string]string{"node": "front", "pin": "role:back", "outcome": "ok"}, 4},
		{creg, "stoa_mesh_act_seconds", map[string]string{"pin": "role:back"}, 4},
		{creg, "stoa_mesh_providers", map[string]string{"pin": "role:back"}, 1},
		{preg, "stoa_mesh_acts_served_total", map[string]string{"node": "back", "pin": "role:back", "outcome": "ok"}, 4},
		{preg, "stoa_mesh_serve_seconds", map[string]string{"pin": "role:back"}, 4},
	} {
		if got := metric(t, c.reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// As a node's /metrics shows them.
	srv := httptest.NewServer(promhttp.HandlerFor(creg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `stoa_mesh_act_seconds_bucket{node="front",pin="role:back",le="0.005"}`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics has no %s:\n%s", want, body)
	}
}

// metric returns the value of a counter or gauge, or the count of a
// histogram, whose labels include labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}
