package stoahttp

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stoaproject/stoa"
	"github.com/valyala/fasthttp"
)

type benchIn struct {
	Role     string    `json:"role"`
	Cmd      string    `json:"cmd"`
	Operands []float64 `json:"operands"`
}

type benchOut struct {
	Result float64 `json:"result"`
}

const (
	benchBody    = `{"role":"calculator","cmd":"add","operands":[7,3]}`
	benchEscaped = `{"role":"calculator","cmd":"add","operands":[7,3],"note":"a \"quoted\" word"}`
	benchReply   = `{"result":10}`
)

// benchCases are the listener's paths for one act: a handler on Msg and a
// typed one for a plain body (acted as the body's JSON, with no decode by
// the listener), and a typed one for a body with an escape, which the
// listener decodes with encoding/json to check before acting.
var benchCases = []struct {
	name, body string
	typed      bool
}{
	{"msg", benchBody, false},
	{"typed", benchBody, true},
	{"typed-escaped", benchEscaped, true},
}

func benchEngine(tb testing.TB, typed bool) *stoa.Engine {
	tb.Helper()
	e := stoa.New()
	tb.Cleanup(func() { e.Close(context.Background()) })
	h := func(_ context.Context, m stoa.Msg) (any, error) {
		ops := m["operands"].([]any)
		return benchOut{ops[0].(float64) + ops[1].(float64)}, nil
	}
	if typed {
		h = stoa.Handle(func(_ context.Context, in benchIn) (benchOut, error) {
			return benchOut{in.Operands[0] + in.Operands[1]}, nil
		})
	}
	// Other patterns, as a service has, so that the lookup is not trivial.
	nop := func(context.Context, stoa.Msg) (any, error) { return nil, nil }
	for _, p := range []string{"role:calculator,cmd:sub", "role:calculator,cmd:mul", "role:store,cmd:get"} {
		if err := e.Add(p, nop); err != nil {
			tb.Fatal(err)
		}
	}
	if err := e.Add("role:calculator,cmd:add", h); err != nil {
		tb.Fatal(err)
	}
	return e
}

// benchRequest is a request as fasthttp hands it to the listener.
func benchRequest(body string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(http.MethodPost)
	ctx.Request.SetRequestURI(DefaultPath)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBodyString(body)
	return &ctx
}

// BenchmarkListener is the listener's work for one act served by Serve,
// from the request fasthttp has read to the reply it will write, with
// metrics on (the default): no network, so that what the listener and the
// engine do is not lost in the noise of a round trip. The baseline is a
// fasthttp handler that decodes the body into the typed request with
// encoding/json and encodes the reply, as a hand-written service would.
func BenchmarkListener(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			s := &Server{Engine: benchEngine(b, bc.typed)}
			if err := s.init(); err != nil {
				b.Fatal(err)
			}
			ctx := benchRequest(bc.body)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				s.serveFast(ctx)
				if ctx.Response.StatusCode() != http.StatusOK || string(ctx.Response.Body()) != benchReply {
					b.Fatalf("reply = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
	b.Run("baseline-fasthttp-json", func(b *testing.B) {
		ctx := benchRequest(benchBody)
		b.ReportAllocs()
		for b.Loop() {
			ctx.Response.Reset()
			baselineHandler(ctx)
			if ctx.Response.StatusCode() != http.StatusOK || string(ctx.Response.Body()) != benchReply {
				b.Fatalf("reply = %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
}

func baselineHandler(ctx *fasthttp.RequestCtx) {
	var in benchIn
	if err := json.Unmarshal(ctx.Request.Body(), &in); err != nil {
		ctx.Error(err.Error(), http.StatusBadRequest)
		return
	}
	out, err := json.Marshal(benchOut{in.Operands[0] + in.Operands[1]})
	if err != nil {
		ctx.Error(err.Error(), http.StatusInternalServerError)
		return
	}
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetBody(out)
}

// TestBenchmarkListener checks that what BenchmarkListener measures is what
// a caller gets: each case's request, sent over the network to a served
// listener, is answered as the benchmark's in-memory one is, and counted
// under its pattern.
func TestBenchmarkListener(t *testing.T) {
	for _, bc := range benchCases {
		t.Run(bc.name, func(t *testing.T) {
			s := &Server{Engine: benchEngine(t, bc.typed)}
			if err := s.init(); err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go s.Serve(ln)
			t.Cleanup(func() { s.Close(context.Background()) })

			ctx := benchRequest(bc.body)
			s.serveFast(ctx)
			res, err := http.Post("http://"+ln.Addr().String()+DefaultPath, "application/json", strings.NewReader(bc.body))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.StatusCode, ctx.Response.StatusCode(); got != want || got != http.StatusOK {
				t.Errorf("%s: served status %d, in memory %d, want 200", bc.body, got, want)
			}
			if got, want := string(body), string(ctx.Response.Body()); got != want || got != benchReply {
				t.Errorf("%s: served %s, in memory %s, want %s", bc.body, got, want, benchReply)
			}

			res, err = http.Get("http://" + ln.Addr().String() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			const want = `stoa_http_acts_total{outcome="ok",pattern="cmd:add,role:calculator"} 2`
			if !strings.Contains(string(metrics), want) {
				t.Errorf("metrics lack %s:\n%s", want, metrics)
			}
		})
	}
}
