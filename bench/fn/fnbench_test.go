package fnbench

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

var compareMode = flag.String("compare", "", "measure: quick or full (default: a smoke test)")

// TestCompare runs the comparison; see the package doc.
func TestCompare(t *testing.T) {
	if testing.Short() && *compareMode == "" {
		t.Skip("starts function environments and the emulator")
	}
	work := t.TempDir()
	cfg := Config{Work: work, Log: os.Stderr}
	switch *compareMode {
	case "":
		cfg.Seq, cfg.Tput, cfg.Cold, cfg.Rounds, cfg.Log = 50, 100*time.Millisecond, 2, 1, nil
	case "quick":
		cfg.Seq, cfg.Tput, cfg.Cold, cfg.ColdGap, cfg.Rounds = 2000, time.Second, 10, 100*time.Millisecond, 1
	case "full":
		cfg.Seq, cfg.Tput, cfg.Cold, cfg.ColdGap, cfg.Rounds = 5000, 3*time.Second, 21, 100*time.Millisecond, 3
	default:
		t.Fatalf("-compare=%q: want quick or full", *compareMode)
	}
	var err error
	if cfg.Bootstrap, err = BuildEcho(t.Context(), "./testdata/echo", filepath.Join(work, "echo")); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err == nil {
		cfg.NodeBundle, _ = filepath.Abs(filepath.Join("testdata", "node"))
	} else {
		t.Log("node is not on PATH: no Node cold start")
	}
	// The emulator is built once per machine, in the user's cache.
	cache, err := os.UserCacheDir()
	if err == nil {
		cache = filepath.Join(cache, "stoa-bench")
		err = os.MkdirAll(cache, 0o755)
	}
	if err == nil {
		cfg.RIE, err = BuildRIE(t.Context(), cache)
	}
	if err != nil {
		if *compareMode != "" {
			t.Fatal(err)
		}
		t.Logf("no emulator, smoke test without it: %v", err)
	}

	rounds, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rounds {
		for name, sd := range map[string]Side{"floor": r.Floor, "fn": r.Fn} {
			if sd.Seq.Acts != cfg.Seq || sd.Tput1.Acts == 0 || sd.Tput32.Acts == 0 {
				t.Errorf("round %d: %s measured %+v", i+1, name, sd)
			}
		}
		if r.Stub.Seq.Acts != cfg.Seq {
			t.Errorf("round %d: the stub measured %+v", i+1, r.Stub)
		}
		if cfg.RIE != "" && (r.RIE.Seq.Acts != cfg.Seq || r.ColdRIE <= 0) {
			t.Errorf("round %d: the emulator measured %+v, cold %v", i+1, r.RIE, r.ColdRIE)
		}
		if len(r.ColdGoAll) != cfg.Cold || cfg.NodeBundle != "" && len(r.ColdNodes) != cfg.Cold {
			t.Errorf("round %d: %d Go and %d Node cold starts, want %d each", i+1, len(r.ColdGoAll), len(r.ColdNodes), cfg.Cold)
		}
	}
	if *compareMode == "" || t.Failed() {
		return
	}

	med := func(f func(Round) float64) float64 { return Median(rounds, f) }
	floorP50 := med(func(r Round) float64 { return r.Floor.Seq.P50 })
	line := func(name, what, unit, peer string, peerV, stoaV, goal float64, lowerBetter bool) {
		l := compare.Line{Name: name, What: what, Unit: unit, Peer: peer, PeerValue: peerV, StoaValue: stoaV,
			Ratio: compare.Ratio(peerV, stoaV, lowerBetter), Goal: math.Round(goal*100) / 100, Rounds: cfg.Rounds}
		if err := compare.Write(os.Stdout, l); err != nil {
			t.Fatal(err)
		}
	}
	const floor = "plain Go handler on the mesh (floor)"
	rieName := "aws-lambda-rie " + RIEVersion[len(RIEVersion)-12:]
	fnv := func(f func(Side) float64) float64 { return med(func(r Round) float64 { return f(r.Fn) }) }
	flv := func(f func(Side) float64) float64 { return med(func(r Round) float64 { return f(r.Floor) }) }
	rv := func(f func(Side) float64) float64 { return med(func(r Round) float64 { return f(r.RIE) }) }
	p50 := func(s Side) float64 { return s.Seq.P50 }
	p99 := func(s Side) float64 { return s.Seq.P99 }
	t1 := func(s Side) float64 { return s.Tput1.PerS() }
	t32 := func(s Side) float64 { return s.Tput32.PerS() }
	p99at32 := func(s Side) float64 { return s.Tput32.P99 }

	line("fn/p50-vs-floor", fmt.Sprintf("warm invoke of an echo function through the mesh, p50 (goal: ≤ floor + %d µs)", WarmGoal),
		"µs", floor, floorP50, fnv(p50), floorP50/(floorP50+WarmGoal), true)
	stubP50 := med(func(r Round) float64 { return r.Stub.Seq.P50 })
	line("fn/p50-vs-floor+stub", "warm invoke p50 beside the floor's plus the same echo under a bare Runtime API stub (no sandbox, worker or mesh: the client's own round trip)",
		"µs", "floor + internal/lambdastub", floorP50+stubP50, fnv(p50), 0, true)
	line("fn/p99-vs-floor", "warm invoke, p99", "µs", floor, flv(p99), fnv(p99), 0, true)
	line("fn/tput1-vs-floor", "warm invokes/s, 1 in flight", "acts/s", floor, flv(t1), fnv(t1), 0, false)
	line("fn/tput32-vs-floor", fmt.Sprintf("warm invokes/s, %d in flight", InFlight), "acts/s", floor, flv(t32), fnv(t32), 0, false)
	line("fn/p99at32-vs-floor", fmt.Sprintf("warm invoke, %d in flight, p99", InFlight), "µs", floor, flv(p99at32), fnv(p99at32), 0, true)
	if cfg.RIE != "" {
		line("fn/p50-vs-rie", "warm invoke, p50, same aws-lambda-go echo (goal: faster than the emulator)", "µs", rieName, rv(p50), fnv(p50), 1, true)
		line("fn/p99-vs-rie", "warm invoke, p99", "µs", rieName, rv(p99), fnv(p99), 0, true)
		line("fn/tput1-vs-rie", "warm invokes/s, 1 in flight (the emulator's ceiling: one environment)", "acts/s", rieName, rv(t1), fnv(t1), 1, false)
		line("fn/cold-go-vs-rie", "Go cold start, invoke to reply (the emulator's: its first invoke)", "µs", rieName,
			med(func(r Round) float64 { return r.ColdRIE }), med(func(r Round) float64 { return r.ColdGo }), 0, true)
	}
	line("fn/cold-go", fmt.Sprintf("Go provided cold start, invoke to reply, median (goal: ≤ %d ms)", ColdGoal/1000), "µs",
		"the goal", ColdGoal, med(func(r Round) float64 { return r.ColdGo }), 1, true)
	if cfg.NodeBundle != "" {
		line("fn/cold-node", "Node cold start, invoke to reply, median (peer: LAMBDA.md's bare Node bootstrap start)", "µs",
			"Node bootstrap anchor", 34_000, med(func(r Round) float64 { return r.ColdNode }), 0, true)
	}
}
