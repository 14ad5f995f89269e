package gatewaybench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

var compare = flag.String("compare", "", "measure instead of the smoke run: full or quick; prints compare: lines for bench/cmd/benchtable")

// compareLine is the line bench/cmd/benchtable reads (bench/doc.go).
type compareLine struct {
	Name      string  `json:"name"`
	What      string  `json:"what"`
	Unit      string  `json:"unit"`
	Peer      string  `json:"peer"`
	PeerValue float64 `json:"peer_value"`
	StoaValue float64 `json:"stoa_value"`
	Ratio     float64 `json:"ratio"`
	Goal      float64 `json:"goal"`
	Rounds    int     `json:"rounds"`
}

// TestCompare is the comparison's runner. Without -compare it is a smoke
// test: a short run of each side, each reply checked. With -compare=full
// or quick it measures, prints a table and the compare: lines.
func TestCompare(t *testing.T) {
	var cfg Config
	switch *compare {
	case "":
		if testing.Short() {
			t.Skip("skipping the gateway comparison in -short mode")
		}
		cfg = Config{Duration: 100 * time.Millisecond, Warmup: 5, Rounds: 1}
	case "quick":
		cfg = Config{Duration: time.Second, Warmup: 200, Rounds: 1}
	case "full":
		// Run's defaults.
	default:
		t.Fatalf("-compare=%q: want full, quick or nothing", *compare)
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rounds := cfg.Rounds
	if rounds == 0 {
		rounds = 3
	}
	for _, side := range Sides {
		if got := len(res.Runs[side]); got != rounds {
			t.Errorf("%s: %d runs, want %d", side, got, rounds)
		}
	}
	if t.Failed() {
		return
	}
	floor, local, viaMesh := res.Median(NetHTTP), res.Median(Local), res.Median(Mesh)
	var table strings.Builder
	fmt.Fprintf(&table, "%-34s %12s %10s %10s %8s\n", "side (GET /hello/Ada, 32 in flight)", "req/s", "p50 ms", "p99 ms", "× floor")
	for _, r := range []struct {
		name string
		s    Stats
	}{{"net/http handler (floor)", floor}, {"gateway → act, same engine", local}, {"gateway → act over the mesh", viaMesh}} {
		fmt.Fprintf(&table, "%-34s %12.0f %10.3f %10.3f %8.2f\n", r.name, r.s.ActsPerS, r.s.P50ms, r.s.P99ms, r.s.ActsPerS/floor.ActsPerS)
	}
	fmt.Fprintf(&table, "goal: act route ≥ %.1f× the floor's throughput\n", Goal)
	t.Logf("medians of %d round(s):\n%s", rounds, table.String())
	if *compare == "" {
		return
	}
	fmt.Print(table.String())
	lines := []compareLine{
		{"gateway/act-mesh", "gateway → act route over the mesh, 32 in flight, vs a net/http handler", "req/s", "net/http", floor.ActsPerS, viaMesh.ActsPerS, viaMesh.ActsPerS / floor.ActsPerS, Goal, rounds},
		{"gateway/act-local", "gateway → act route on its own engine, 32 in flight, vs a net/http handler", "req/s", "net/http", floor.ActsPerS, local.ActsPerS, local.ActsPerS / floor.ActsPerS, Goal, rounds},
		{"gateway/act-mesh/p50", "latency p50 at 32 in flight, over the mesh", "ms", "net/http", floor.P50ms, viaMesh.P50ms, floor.P50ms / viaMesh.P50ms, 0, rounds},
		{"gateway/act-mesh/p99", "latency p99 at 32 in flight, over the mesh", "ms", "net/http", floor.P99ms, viaMesh.P99ms, floor.P99ms / viaMesh.P99ms, 0, rounds},
	}
	for _, l := range lines {
		l.PeerValue, l.StoaValue, l.Ratio = round(l.PeerValue), round(l.StoaValue), math.Round(l.Ratio*100)/100
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("compare: %s\n", b)
	}
}

// round keeps 3 significant digits.
func round(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// BenchmarkGateway measures each side with the testing package, 32
// requests in flight.
func BenchmarkGateway(b *testing.B) {
	bench, err := Start(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer bench.Close()
	for _, side := range Sides {
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
