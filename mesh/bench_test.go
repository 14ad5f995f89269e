package mesh_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

type operands struct {
	Role     string    `json:"role,omitempty"`
	Cmd      string    `json:"cmd,omitempty"`
	Operands []float64 `json:"operands"`
}

type result struct {
	Result float64 `json:"result"`
}

func addOp(in operands) result { return result{Result: in.Operands[0] + in.Operands[1]} }

// BenchmarkAct is one act across the mesh, caller and provider in this
// process on an in-process NATS server: sequential, and with 32 in flight.
// BenchmarkBaseline is the same work in plain nats.go request/reply.
// bench/mesh measures both with processes apart, beside Moleculer.
func BenchmarkAct(b *testing.B) {
	s := natstest.Server(b)
	p := stoa.New()
	defer p.Close(context.Background())
	p.Add("role:calculator,cmd:add", stoa.Handle(func(_ context.Context, in operands) (result, error) { return addOp(in), nil }))
	ctx := context.Background()
	pn, err := mesh.Join(ctx, p, mesh.WithURLs(s.ClientURL()), mesh.WithPins("role:calculator,cmd:add"), mesh.WithDiscoveryWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer pn.Close(ctx)
	c := stoa.New()
	defer c.Close(ctx)
	cn, err := mesh.Join(ctx, c, mesh.WithURLs(s.ClientURL()), mesh.WithDiscoveryWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cn.Close(ctx)
	act := func() error {
		out, err := c.Act(ctx, stoa.Msg{"role": "calculator", "cmd": "add", "operands": []float64{7, 3}})
		if err != nil {
			return err
		}
		if string(out) != `{"result":10}` {
			b.Fatalf("reply %s", out)
		}
		return nil
	}
	b.Run("mesh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := act(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mesh-32", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16) // 32 in flight on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := act(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkBaseline(b *testing.B) {
	s := natstest.Server(b)
	rn, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer rn.Close()
	rn.QueueSubscribe("calc.add", "q", func(m *nats.Msg) {
		var in operands
		json.Unmarshal(m.Data, &in)
		out, _ := json.Marshal(addOp(in))
		m.Respond(out)
	})
	rn.Flush()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	req := func() error {
		data, _ := json.Marshal(operands{Role: "calculator", Cmd: "add", Operands: []float64{7, 3}})
		m, err := nc.Request("calc.add", data, 5*time.Second)
		if err != nil {
			return err
		}
		if string(m.Data) != `{"result":10}` {
			b.Fatalf("reply %s", m.Data)
		}
		return nil
	}
	b.Run("nats-request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := req(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nats-request-32", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := req(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
