package httpbench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa/bench/internal/compare"
	"github.com/stoaproject/stoa/internal/nodetest"
)

var compareMode = flag.String("compare", "", "measure instead of the smoke run: full or quick; prints compare: lines for bench/cmd/benchtable")

// TestCompare is the comparison's runner. Without -compare it is a smoke
// test: a short run of each side, proving that each acts and gets the
// right reply. With -compare=full or quick it measures, prints a table and
// the compare: lines.
func TestCompare(t *testing.T) {
	var cfg Config
	switch *compareMode {
	case "":
		if testing.Short() {
			t.Skip("skipping the Seneca comparison in -short mode")
		}
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not on PATH; install Node 20 and run `make deps` to run the Seneca comparison")
		}
		if _, err := os.Stat(filepath.Join(nodetest.Dir(), "node_modules", "seneca")); err != nil {
			t.Skip("the pinned npm packages are missing; run `make deps` (npm ci in testdata/npm)")
		}
		cfg = Config{Duration: 100 * time.Millisecond, Warmup: 5, Rounds: 1}
	case "quick":
		cfg = Config{Duration: time.Second, Warmup: 200, Rounds: 1}
	case "full":
		// Run's defaults.
	default:
		t.Fatalf("-compare=%q: want full, quick or nothing", *compareMode)
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rounds := max(cfg.Rounds, 1)
	if cfg.Rounds == 0 {
		rounds = DefaultRounds
	}
	for _, side := range []string{Stoa, NetHTTP, FastHTTP, Seneca} {
		for _, n := range []int{1, 32} {
			if got := len(res.Runs[side][n]); got != rounds {
				t.Errorf("%s at %d in flight: %d runs, want %d", side, n, got, rounds)
			}
		}
	}
	if t.Failed() {
		return
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%-26s %12s %12s %12s %14s %14s\n", "side", "p50 seq ms", "p99 seq ms", "acts/s @1", "acts/s @32", "p99 @32 ms")
	for _, side := range []struct{ key, name string }{
		{Stoa, "stoa client → listener"}, {NetHTTP, "net/http JSON echo"}, {FastHTTP, "fasthttp JSON echo"}, {Seneca, "seneca " + res.Version},
	} {
		one, many := res.Median(side.key, 1), res.Median(side.key, 32)
		fmt.Fprintf(&table, "%-26s %12.3f %12.3f %12.0f %14.0f %14.3f\n", side.name, one.P50ms, one.P99ms, one.ActsPerS, many.ActsPerS, many.P99ms)
	}
	st1, st32 := res.Median(Stoa, 1), res.Median(Stoa, 32)
	nh1, nh32 := res.Median(NetHTTP, 1), res.Median(NetHTTP, 32)
	fh1, fh32 := res.Median(FastHTTP, 1), res.Median(FastHTTP, 32)
	se1, se32 := res.Median(Seneca, 1), res.Median(Seneca, 32)
	fmt.Fprintf(&table, "ratios: stoa/net/http throughput %.2f× @1, %.2f× @32 (goal ≥ %.1f×); stoa/seneca %.1f× @1, %.1f× @32 (goal ≥ %d×); seneca/stoa p50 %.1f×, p99 %.1f×; stoa/fasthttp %.2f× @1, %.2f× @32\n",
		st1.ActsPerS/nh1.ActsPerS, st32.ActsPerS/nh32.ActsPerS, GoalNetHTTP,
		st1.ActsPerS/se1.ActsPerS, st32.ActsPerS/se32.ActsPerS, GoalSeneca,
		se1.P50ms/st1.P50ms, se1.P99ms/st1.P99ms,
		st1.ActsPerS/fh1.ActsPerS, st32.ActsPerS/fh32.ActsPerS)
	t.Logf("medians of %d round(s), %v per run:\n%s", rounds, cfgDuration(cfg), table.String())
	for _, side := range []string{Stoa, NetHTTP, FastHTTP, Seneca} {
		for _, n := range []int{1, 32} {
			var runs []string
			for _, r := range res.Runs[side][n] {
				runs = append(runs, fmt.Sprintf("%.0f/s p99 %.3f ms", r.ActsPerS, r.P99ms))
			}
			t.Logf("%s at %d in flight, round by round: %s", side, n, strings.Join(runs, "; "))
		}
	}

	if *compareMode == "" {
		return
	}
	fmt.Print(table.String())
	seneca := "seneca " + res.Version
	lines := []compare.Line{
		{Name: "http/inflight=32", What: "acts/s over HTTP, 32 in flight", Unit: "acts/s", Peer: seneca, PeerValue: se32.ActsPerS, StoaValue: st32.ActsPerS, Ratio: st32.ActsPerS / se32.ActsPerS, Goal: GoalSeneca, Rounds: rounds},
		{Name: "http/inflight=32/nethttp", What: "acts/s over HTTP, 32 in flight, vs plain net/http JSON", Unit: "acts/s", Peer: "net/http", PeerValue: nh32.ActsPerS, StoaValue: st32.ActsPerS, Ratio: st32.ActsPerS / nh32.ActsPerS, Goal: GoalNetHTTP, Rounds: rounds},
		{Name: "http/inflight=1", What: "acts/s over HTTP, one at a time", Unit: "acts/s", Peer: seneca, PeerValue: se1.ActsPerS, StoaValue: st1.ActsPerS, Ratio: st1.ActsPerS / se1.ActsPerS, Goal: 0, Rounds: rounds},
		{Name: "http/inflight=1/nethttp", What: "acts/s over HTTP, one at a time, vs plain net/http JSON", Unit: "acts/s", Peer: "net/http", PeerValue: nh1.ActsPerS, StoaValue: st1.ActsPerS, Ratio: st1.ActsPerS / nh1.ActsPerS, Goal: 0, Rounds: rounds},
		{Name: "http/p50", What: "latency p50, one at a time", Unit: "ms", Peer: seneca, PeerValue: se1.P50ms, StoaValue: st1.P50ms, Ratio: se1.P50ms / st1.P50ms, Goal: 0, Rounds: rounds},
		{Name: "http/p99", What: "latency p99, one at a time", Unit: "ms", Peer: seneca, PeerValue: se1.P99ms, StoaValue: st1.P99ms, Ratio: se1.P99ms / st1.P99ms, Goal: 0, Rounds: rounds},
		{Name: "http/p50/nethttp", What: "latency p50, one at a time, vs plain net/http JSON", Unit: "ms", Peer: "net/http", PeerValue: nh1.P50ms, StoaValue: st1.P50ms, Ratio: nh1.P50ms / st1.P50ms, Goal: 0, Rounds: rounds},
		{Name: "http/inflight=32/fasthttp", What: "acts/s over HTTP, 32 in flight, vs plain fasthttp JSON (the stack stoahttp runs on)", Unit: "acts/s", Peer: "fasthttp", PeerValue: fh32.ActsPerS, StoaValue: st32.ActsPerS, Ratio: st32.ActsPerS / fh32.ActsPerS, Goal: 0, Rounds: rounds},
	}
	if err := compare.Write(os.Stdout, lines...); err != nil {
		t.Fatal(err)
	}
}

func cfgDuration(c Config) time.Duration {
	if c.Duration == 0 {
		return DefaultDuration
	}
	return c.Duration
}

func TestMedian(t *testing.T) {
	r := Result{Runs: map[string]map[int][]Stats{Stoa: {1: {{ActsPerS: 30, P50ms: 3}, {ActsPerS: 10, P50ms: 1}, {ActsPerS: 20, P50ms: 2}}}}}
	if got := r.Median(Stoa, 1); got.ActsPerS != 20 || got.P50ms != 2 {
		t.Errorf("Median = %+v, want the run with 20 acts/s", got)
	}
	if got := r.Median(Seneca, 1); got != (Stats{}) {
		t.Errorf("Median of no runs = %+v, want zero", got)
	}
}

// BenchmarkHTTP measures the three Go sides with the testing package: one
// act at a time (seq) and with GOMAXPROCS×8 goroutines acting (par).
func BenchmarkHTTP(b *testing.B) {
	st, err := StartStoa()
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	nh, err := StartNetHTTP()
	if err != nil {
		b.Fatal(err)
	}
	defer nh.Close()
	fh, err := StartFastHTTP()
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	for _, side := range []struct {
		name string
		act  func(context.Context) error
	}{{Stoa, st.Act}, {NetHTTP, nh.Act}, {FastHTTP, fh.Act}} {
		b.Run(side.name+"/seq", func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := side.act(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(side.name+"/par", func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := side.act(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
