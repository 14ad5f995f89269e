package stoa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stoaproject/stoa"
)

type sumOut struct {
	Answer int `json:"answer"`
}

// BenchmarkAct is one in-process act: a 2-key pattern and a small message,
// the reply encoded to JSON. Goal: ≤ 1 µs/op and ≤ 4 allocs/op.
func BenchmarkAct(b *testing.B) {
	e := stoa.New()
	defer e.Close(context.Background())
	err := e.Add("role:math,cmd:sum", func(_ context.Context, m stoa.Msg) (any, error) {
		return sumOut{Answer: m["left"].(int) + m["right"].(int)}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	msg := stoa.Msg{"role": "math", "cmd": "sum", "left": 1, "right": 2}
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.Act(ctx, msg)
		if err != nil || len(out) != len(`{"answer":3}`) {
			b.Fatalf("act = %s, %v", out, err)
		}
	}
}

// BenchmarkActPatterns acts with 10, 1,000 and 100,000 patterns added: the
// time per act must not grow with the number of patterns (goal: within 2×
// from 10 to 100,000).
func BenchmarkActPatterns(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("patterns=%d", n), func(b *testing.B) {
			e := stoa.New()
			defer e.Close(context.Background())
			h := func(_ context.Context, m stoa.Msg) (any, error) { return json.RawMessage(`{"ok":true}`), nil }
			for i := range n {
				// Patterns of one to three keys over shared roles, as a large
				// system has: many services, many commands each.
				p := stoa.Msg{"role": fmt.Sprintf("svc%d", i%100), "cmd": fmt.Sprintf("cmd%d", i/100)}
				if i%3 == 0 {
					p["v"] = i % 7
				}
				if err := e.Add(p, h); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			msgs := make([]stoa.Msg, 64)
			for i := range msgs {
				j := (i * 7919) % n
				msgs[i] = stoa.Msg{"role": fmt.Sprintf("svc%d", j%100), "cmd": fmt.Sprintf("cmd%d", j/100), "x": i}
				if j%3 == 0 {
					msgs[i]["v"] = j % 7
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				out, err := e.Act(ctx, msgs[i%len(msgs)])
				if err != nil || string(out) != `{"ok":true}` {
					b.Fatalf("act = %s, %v", out, err)
				}
				i++
			}
		})
	}
}

// BenchmarkFind is the match alone, without running a handler.
func BenchmarkFind(b *testing.B) {
	e := stoa.New()
	for i := range 1000 {
		e.Add(stoa.Msg{"role": fmt.Sprintf("svc%d", i%100), "cmd": fmt.Sprintf("cmd%d", i/100)}, func(context.Context, stoa.Msg) (any, error) { return nil, nil })
	}
	msg := stoa.Msg{"role": "svc42", "cmd": "cmd3", "left": 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.Find(msg); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkFindGlob is the match of a message on glob values: "fn:*", as
// the function workers serve, and a glob with a literal part and '?'.
func BenchmarkFindGlob(b *testing.B) {
	nop := func(context.Context, stoa.Msg) (any, error) { return nil, nil }
	for _, bc := range []struct {
		name, pattern string
		msg           stoa.Msg
	}{
		{"star", "fn:*", stoa.Msg{"fn": "resize-images", "qualifier": "live"}},
		{"prefix", "cmd:resize-*-v?,role:img", stoa.Msg{"role": "img", "cmd": "resize-thumbnail-v2"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := stoa.New()
			if err := e.Add(bc.pattern, nop); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if p, ok := e.Find(bc.msg); !ok || p != bc.pattern {
					b.Fatalf("Find(%v) = %q, %v; want %q", bc.msg, p, ok, bc.pattern)
				}
			}
		})
	}
}

// BenchmarkActJSON is an act that arrives as JSON, as it does from a
// transport: decoded into a Msg for the router, then into the typed
// handler's struct. The baseline is encoding/json's decode into the struct
// alone, which a hand-written service would do too.
func BenchmarkActJSON(b *testing.B) {
	type operands struct {
		Role     string    `json:"role"`
		Cmd      string    `json:"cmd"`
		Operands []float64 `json:"operands"`
	}
	type result struct {
		Result float64 `json:"result"`
	}
	in := json.RawMessage(`{"role":"calculator","cmd":"add","operands":[7,3]}`)
	ctx := context.Background()
	b.Run("act", func(b *testing.B) {
		e := stoa.New()
		defer e.Close(ctx)
		e.Add("role:calculator,cmd:add", stoa.Handle(func(_ context.Context, in operands) (result, error) {
			return result{in.Operands[0] + in.Operands[1]}, nil
		}))
		b.ReportAllocs()
		for b.Loop() {
			out, err := e.Act(ctx, in)
			if err != nil || string(out) != `{"result":10}` {
				b.Fatalf("act = %s, %v", out, err)
			}
		}
	})
	b.Run("baseline-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v operands
			if err := json.Unmarshal(in, &v); err != nil {
				b.Fatal(err)
			}
			out, err := json.Marshal(result{v.Operands[0] + v.Operands[1]})
			if err != nil || string(out) != `{"result":10}` {
				b.Fatalf("reply = %s, %v", out, err)
			}
		}
	})
}
