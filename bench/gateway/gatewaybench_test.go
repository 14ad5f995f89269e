package gatewaybench

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

var compareMode = flag.String("compare", "", "measure instead of the smoke run: full or quick; prints compare: lines for bench/cmd/benchtable")

// TestCompare is the comparison's runner. Without -compare it is a smoke
// test: a short run of each side, each reply checked. With -compare=full
// or quick it measures, prints a table and the compare: lines.
func TestCompare(t *testing.T) {
	var cfg Config
	switch *compareMode {
	case "":
		if testing.Short() {
			t.Skip("skipping the gateway comparison in -short mode")
		}
		cfg = Config{Duration: 100 * time.Millisecond, Warmup: 5, Rounds: 1, Cold: 1}
	case "quick":
		cfg = Config{Duration: time.Second, Warmup: 200, Rounds: 1, Cold: 3}
	case "full":
		// Run's defaults.
	default:
		t.Fatalf("-compare=%q: want full, quick or nothing", *compareMode)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("node is not on PATH: the claudia sides are left out")
		cfg.NoNode = true
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rounds := cfg.Rounds
	if rounds == 0 {
		rounds = 3
	}
	sides := Sides
	if cfg.NoNode {
		sides = []string{NetHTTP, Local, Mesh, Function, Stub}
	}
	for _, side := range sides {
		for _, n := range []int{1, InFlight} {
			if got := len(res.Runs[side][n]); got != rounds {
				t.Errorf("%s at %d in flight: %d runs, want %d", side, n, got, rounds)
			}
		}
	}
	if t.Failed() {
		return
	}

	m := func(side string, n int) Stats { return res.Median(side, n) }
	floor1, floor32 := m(NetHTTP, 1), m(NetHTTP, InFlight)
	var table strings.Builder
	fmt.Fprintf(&table, "%-40s %10s %9s %9s %11s %9s %9s %8s\n", "side", "req/s @1", "p50 ms", "p99 ms", "req/s @32", "p50 ms", "p99 ms", "@32/floor")
	names := map[string]string{
		NetHTTP:  "net/http handler (floor)",
		Local:    "gateway → act, same engine",
		Mesh:     "gateway → act over the mesh",
		Function: "gateway → Go function (warm)",
		Stub:     "net/http → same function, bare stub",
		Claudia:  "gateway → claudia app (Node, warm)",
		LocalAPI: "claudia-local-api 3.0.5 (Express)",
	}
	for _, side := range sides {
		a, b := m(side, 1), m(side, InFlight)
		fmt.Fprintf(&table, "%-40s %10.0f %9.3f %9.3f %11.0f %9.3f %9.3f %8.2f\n", names[side], a.ActsPerS, a.P50ms, a.P99ms, b.ActsPerS, b.P50ms, b.P99ms, b.ActsPerS/floor32.ActsPerS)
	}
	for _, side := range []string{Function, Claudia} {
		if len(res.Cold[side]) > 0 {
			fmt.Fprintf(&table, "cold start through the gateway, %s: p50 %.1f ms over %d\n", names[side], res.ColdP50(side), len(res.Cold[side]))
		}
	}
	fn1 := m(Function, 1)
	fmt.Fprintf(&table, "goals: act route ≥ %.1f× the floor's throughput @32 (mesh %.2f×, same engine %.2f×); function p50 ≤ floor p50 + %d µs (+%.0f µs)\n",
		Goal, m(Mesh, InFlight).ActsPerS/floor32.ActsPerS, m(Local, InFlight).ActsPerS/floor32.ActsPerS, FunctionGoal, (fn1.P50ms-floor1.P50ms)*1000)
	t.Logf("medians of %d round(s):\n%s", rounds, table.String())
	if *compareMode == "" {
		return
	}
	fmt.Print(table.String())
	mesh32, local32, fn32 := m(Mesh, InFlight), m(Local, InFlight), m(Function, InFlight)
	us := func(ms float64) float64 { return ms * 1000 } // benchtable prints whole units
	lines := []compare.Line{
		{Name: "gateway/act-mesh", What: "gateway → act route over the mesh, 32 in flight, vs a net/http handler", Unit: "req/s", Peer: "net/http", PeerValue: floor32.ActsPerS, StoaValue: mesh32.ActsPerS, Ratio: mesh32.ActsPerS / floor32.ActsPerS, Goal: Goal, Rounds: rounds},
		{Name: "gateway/act-local", What: "gateway → act route on its own engine, 32 in flight, vs a net/http handler", Unit: "req/s", Peer: "net/http", PeerValue: floor32.ActsPerS, StoaValue: local32.ActsPerS, Ratio: local32.ActsPerS / floor32.ActsPerS, Goal: Goal, Rounds: rounds},
		{Name: "gateway/act-mesh/p50", What: "act route over the mesh, latency p50 one at a time", Unit: "µs", Peer: "net/http", PeerValue: us(floor1.P50ms), StoaValue: us(m(Mesh, 1).P50ms), Ratio: floor1.P50ms / m(Mesh, 1).P50ms, Goal: 0, Rounds: rounds},
		{Name: "gateway/function", What: "gateway → warm Go function, 32 in flight, vs a net/http handler", Unit: "req/s", Peer: "net/http", PeerValue: floor32.ActsPerS, StoaValue: fn32.ActsPerS, Ratio: fn32.ActsPerS / floor32.ActsPerS, Goal: 0, Rounds: rounds},
		{Name: "gateway/function/p50", What: "gateway → warm Go function, p50 one at a time (goal: floor + 200 µs)", Unit: "µs", Peer: "net/http", PeerValue: us(floor1.P50ms), StoaValue: us(fn1.P50ms), Ratio: floor1.P50ms / fn1.P50ms, Goal: math.Round(floor1.P50ms/(floor1.P50ms+FunctionGoal/1000.0)*100) / 100, Rounds: rounds},
		{Name: "gateway/function/p50-vs-stub", What: "gateway → warm Go function, p50, vs a net/http handler invoking it under a bare Runtime API stub (the client's own round trip, no gateway, mesh, worker or sandbox)", Unit: "µs", Peer: "net/http + internal/lambdastub", PeerValue: us(m(Stub, 1).P50ms), StoaValue: us(fn1.P50ms), Ratio: m(Stub, 1).P50ms / fn1.P50ms, Goal: 0, Rounds: rounds},
		{Name: "gateway/function/p99", What: "gateway → warm Go function, p99 one at a time", Unit: "µs", Peer: "net/http", PeerValue: us(floor1.P99ms), StoaValue: us(fn1.P99ms), Ratio: floor1.P99ms / fn1.P99ms, Goal: 0, Rounds: rounds},
		{Name: "gateway/function/cold", What: "cold start through the gateway, Go function, p50", Unit: "ms", Peer: "", PeerValue: 0, StoaValue: res.ColdP50(Function), Ratio: 0, Goal: 0, Rounds: len(res.Cold[Function])},
	}
	if !cfg.NoNode {
		cl1, cl32, la1, la32 := m(Claudia, 1), m(Claudia, InFlight), m(LocalAPI, 1), m(LocalAPI, InFlight)
		lines = append(lines,
			compare.Line{Name: "gateway/claudia", What: "the claudia app through the gateway vs claudia-local-api, 32 in flight", Unit: "req/s", Peer: "claudia-local-api 3.0.5", PeerValue: la32.ActsPerS, StoaValue: cl32.ActsPerS, Ratio: cl32.ActsPerS / la32.ActsPerS, Goal: 0, Rounds: rounds},
			compare.Line{Name: "gateway/claudia/p50", What: "the claudia app through the gateway vs claudia-local-api, p50 one at a time", Unit: "µs", Peer: "claudia-local-api 3.0.5", PeerValue: us(la1.P50ms), StoaValue: us(cl1.P50ms), Ratio: la1.P50ms / cl1.P50ms, Goal: 0, Rounds: rounds},
			compare.Line{Name: "gateway/claudia/cold", What: "cold start through the gateway, claudia app (Node), p50", Unit: "ms", Peer: "", PeerValue: 0, StoaValue: res.ColdP50(Claudia), Ratio: 0, Goal: 0, Rounds: len(res.Cold[Claudia])},
		)
	}
	if err := compare.Write(os.Stdout, lines...); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkGateway measures each side with the testing package, 32
// requests in flight.
func BenchmarkGateway(b *testing.B) {
	_, err := exec.LookPath("node")
	bench, err := Start(b.Context(), err != nil)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	for _, side := range bench.Sides() {
		b.Run(strings.ReplaceAll(side, "/", "-"), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(max(1, InFlight/runtime.GOMAXPROCS(0))) // InFlight goroutines in all
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bench.Get(ctx, side); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
