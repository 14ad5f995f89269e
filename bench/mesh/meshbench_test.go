package meshbench

import (
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

var compareMode = flag.String("compare", "", "measure: quick or full (default: a smoke test)")

// TestMain lets the test binary run the child processes' roles.
func TestMain(m *testing.M) {
	if Main() {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func nodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "npm")
}

// TestCompare runs the comparison; see the package doc.
func TestCompare(t *testing.T) {
	if testing.Short() && *compareMode == "" {
		t.Skip("starts processes")
	}
	cfg := Config{Log: os.Stderr}
	dir := nodeDir()
	haveMoleculer := func() bool {
		_, err := os.Stat(filepath.Join(dir, "mesh", "node_modules", "moleculer"))
		return err == nil
	}
	switch *compareMode {
	case "":
		cfg.Seq, cfg.Tput, cfg.Rounds, cfg.Log = 200, 300*time.Millisecond, 1, nil
		if haveMoleculer() {
			cfg.NodeDir = dir
		} else {
			t.Log("Moleculer not installed (cd testdata/npm/mesh && npm ci): smoke test without it")
		}
	case "quick", "full":
		if !haveMoleculer() {
			t.Log("installing the pinned Moleculer and Node 22: npm ci in testdata/npm/mesh")
			cmd := exec.CommandContext(t.Context(), "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = filepath.Join(dir, "mesh")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm ci in testdata/npm/mesh: %v\n%s", err, out)
			}
		}
		cfg.NodeDir = dir
		cfg.Seq, cfg.Tput, cfg.Rounds = 20000, 5*time.Second, 3
		if *compareMode == "quick" {
			cfg.Seq, cfg.Tput, cfg.Rounds = 2000, 2*time.Second, 1
		}
	default:
		t.Fatalf("-compare=%q: want quick or full", *compareMode)
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for c, rounds := range res {
		for _, r := range rounds {
			if r.Seq.Acts == 0 || r.Tput.Acts == 0 || r.Seq.P50 <= 0 || r.Tput.CPU <= 0 && *compareMode != "" {
				t.Errorf("%s measured nothing: %+v", c, r)
			}
		}
	}
	if *compareMode == "" {
		return
	}
	med := func(c string, f func(Round) float64) float64 { return Median(res[c], f) }
	seqP50 := func(r Round) float64 { return r.Seq.P50 }
	seqP99 := func(r Round) float64 { return r.Seq.P99 }
	tput := func(r Round) float64 { return r.Tput.ActsPerS() }
	tputP99 := func(r Round) float64 { return r.Tput.P99 }
	cpuAct := func(r Round) float64 { return r.Tput.CPUPerAct() }
	line := func(name, what, unit, peer string, peerV, stoaV, goal float64, lowerBetter bool) {
		l := compare.Line{Name: name, What: what, Unit: unit, Peer: peer, PeerValue: peerV, StoaValue: stoaV,
			Ratio: compare.Ratio(peerV, stoaV, lowerBetter), Goal: math.Round(goal*100) / 100, Rounds: cfg.Rounds}
		if err := compare.Write(os.Stdout, l); err != nil {
			t.Fatal(err)
		}
	}
	const natsPeer, molPeer = "nats.go v1.55.0 request/reply", "moleculer 0.15.2 (NATS transporter)"
	line("mesh/p50-vs-nats", "mesh act, 1 in flight, p50 latency (goal: ≤ 1.2× NATS)", "µs", natsPeer, med(NATS, seqP50), med(Stoa, seqP50), 1/1.2, true)
	line("mesh/p99-vs-nats", "mesh act, 1 in flight, p99 latency", "µs", natsPeer, med(NATS, seqP99), med(Stoa, seqP99), 0, true)
	line("mesh/tput-vs-nats", "mesh acts/s, 32 in flight (goal: ≥ 0.8× NATS)", "acts/s", natsPeer, med(NATS, tput), med(Stoa, tput), 0.8, false)
	line("mesh/cpu-vs-nats", "caller+provider CPU per act, 32 in flight", "µs CPU", natsPeer, med(NATS, cpuAct), med(Stoa, cpuAct), 0, true)
	line("mesh/p50-vs-moleculer", "mesh act, 1 in flight, p50 latency", "µs", molPeer, med(Moleculer, seqP50), med(Stoa, seqP50), 1, true)
	line("mesh/p99-vs-moleculer", "mesh act, 1 in flight, p99 latency", "µs", molPeer, med(Moleculer, seqP99), med(Stoa, seqP99), 1, true)
	line("mesh/p99at32-vs-moleculer", "mesh act, 32 in flight, p99 latency", "µs", molPeer, med(Moleculer, tputP99), med(Stoa, tputP99), 1, true)
	line("mesh/tput-vs-moleculer", "mesh acts/s, 32 in flight", "acts/s", molPeer, med(Moleculer, tput), med(Stoa, tput), 1, false)
	line("mesh/cpu-vs-moleculer", "caller+provider CPU per act, 32 in flight", "µs CPU", molPeer, med(Moleculer, cpuAct), med(Stoa, cpuAct), 1, true)
}
