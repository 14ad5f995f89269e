package stoa_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stoaproject/stoa"
)

func ExampleEngine_Act() {
	e := stoa.New()
	e.Add("role:hello,cmd:sayHello", func(ctx context.Context, msg stoa.Msg) (any, error) {
		return map[string]string{"message": "Hello " + msg["name"].(string)}, nil
	})
	out, err := e.Act(context.Background(), stoa.Msg{"role": "hello", "cmd": "sayHello", "name": "Alice"})
	fmt.Println(string(out), err)
	// Output: {"message":"Hello Alice"} <nil>
}

func ExampleEngine_Add_mostSpecific() {
	e := stoa.New()
	e.Add("role:math,cmd:sum", func(ctx context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"answer": m["left"].(float64) + m["right"].(float64)}, nil
	})
	e.Add("role:math,cmd:sum,integer:true", func(ctx context.Context, m stoa.Msg) (any, error) {
		return map[string]any{"answer": int(m["left"].(float64)) + int(m["right"].(float64))}, nil
	})
	ctx := context.Background()
	out, _ := e.Act(ctx, "role:math,cmd:sum,left:1.5,right:2.25")
	fmt.Println(string(out))
	out, _ = e.Act(ctx, "role:math,cmd:sum,integer:true,left:1.5,right:2.25")
	fmt.Println(string(out))
	// Output:
	// {"answer":3.75}
	// {"answer":3}
}

type SumIn struct {
	Left  float64 `json:"left"`
	Right float64 `json:"right"`
}

type SumOut struct {
	Answer float64 `json:"answer"`
}

func ExampleHandle() {
	e := stoa.New()
	e.Add("role:math,cmd:sum", stoa.Handle(func(ctx context.Context, in SumIn) (SumOut, error) {
		return SumOut{Answer: in.Left + in.Right}, nil
	}))
	sum, err := stoa.Call[SumOut](context.Background(), e, `{"role":"math","cmd":"sum","left":1,"right":2}`)
	fmt.Println(sum.Answer, err)
	// Output: 3 <nil>
}

func ExamplePrior() {
	e := stoa.New()
	e.Add("role:greet", func(ctx context.Context, m stoa.Msg) (any, error) {
		return map[string]string{"text": "hello"}, nil
	})
	// Adding the same pattern again overrides it; Prior calls the old one.
	e.Add("role:greet", func(ctx context.Context, m stoa.Msg) (any, error) {
		out, err := stoa.Prior(ctx, m)
		if err != nil {
			return nil, err
		}
		return map[string]string{"text": string(out) + " (wrapped)"}, nil
	})
	out, _ := e.Act(context.Background(), "role:greet")
	fmt.Println(string(out))
	// Output: {"text":"{\"text\":\"hello\"} (wrapped)"}
}

func ExampleError() {
	e := stoa.New()
	_, err := e.Act(context.Background(), "role:nobody")
	var se *stoa.Error
	if errors.As(err, &se) {
		fmt.Println(se.Code, errors.Is(err, stoa.ErrNotFound))
	}
	// Output: act_not_found true
}

func ExampleRule() {
	e := stoa.New()
	// left must be a number; page is optional and defaults to {size: 10}.
	e.Add(stoa.Msg{"role": "list", "left": stoa.Number, "page": map[string]any{"size": 10}},
		func(ctx context.Context, m stoa.Msg) (any, error) { return m["page"], nil })
	out, _ := e.Act(context.Background(), "role:list,left:1")
	fmt.Println(string(out))
	_, err := e.Act(context.Background(), "role:list,left:one")
	fmt.Println(errors.Is(err, stoa.ErrInvalidMsg))
	// Output:
	// {"size":10}
	// true
}

func ExampleEngine_Use() {
	e := stoa.New()
	e.Use(stoa.Plugin{
		Name: "shop",
		Setup: func(a *stoa.Adder) error {
			return errors.Join(
				a.Add("role:shop,cmd:price", func(context.Context, stoa.Msg) (any, error) { return map[string]int{"price": 42}, nil }),
				a.Add("role:shop,cmd:stock", func(context.Context, stoa.Msg) (any, error) { return map[string]int{"stock": 7}, nil }),
			)
		},
	})
	fmt.Println(e.Patterns())
	// Output: [cmd:price,role:shop cmd:stock,role:shop]
}

func ExampleContextMeta() {
	e := stoa.New()
	e.Add("role:trace", func(ctx context.Context, m stoa.Msg) (any, error) {
		meta := stoa.ContextMeta(ctx)
		return map[string]string{"traceparent": meta.TraceParent}, nil
	})
	ctx := stoa.WithMeta(context.Background(), stoa.Meta{TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	out, _ := e.Act(ctx, "role:trace")
	fmt.Println(string(out))
	// Output: {"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
}

func ExampleParseMsg() {
	m, err := stoa.ParseMsg("role:math,cmd:sum,left:1,right:'2'")
	fmt.Println(m["role"], m["left"], m["right"], err)
	// Output: math 1 2 <nil>
}

func ExampleCanonical() {
	c, _ := stoa.Canonical(stoa.Msg{"role": "math", "cmd": "sum", "left": stoa.Number, "timeout$": 100})
	fmt.Println(c)
	// Output: cmd:sum,role:math
}
