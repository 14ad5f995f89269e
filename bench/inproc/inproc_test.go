package inprocbench

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stoaproject/stoa/bench/internal/compare"
	"github.com/stoaproject/stoa/internal/nodetest"
)

var compareMode = flag.String("compare", "", "measure instead of the smoke run: full or quick; prints a compare: line for bench/cmd/benchtable")

// TestCompare is the comparison's runner. Without -compare it is a smoke
// test: a few acts per side, proving that both sides act and get the right
// reply. With -compare=full or -compare=quick it measures and prints the
// compare: line.
func TestCompare(t *testing.T) {
	dir := nodetest.Dir()
	var cfg Config
	switch *compareMode {
	case "":
		if testing.Short() {
			t.Skip("skipping the Seneca comparison in -short mode")
		}
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not on PATH; install Node 20 and run `make deps` to run the Seneca comparison")
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "seneca")); err != nil {
			t.Skip("the pinned npm packages are missing; run `make deps` (npm ci in testdata/npm)")
		}
		cfg = Config{SenecaActs: 20, StoaActs: 20, Warmup: 3, Rounds: 2}
	case "quick":
		cfg = Config{SenecaActs: 20_000, StoaActs: 200_000, Warmup: 2_000, Rounds: 1}
	case "full":
		// Run's defaults.
	default:
		t.Fatalf("-compare=%q: want full, quick or nothing", *compareMode)
	}
	cfg.NodeDir = dir

	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	rounds := cfg.Rounds
	if rounds == 0 {
		rounds = 3 // Run's default
	}
	for _, sr := range []struct {
		side string
		rs   []Round
	}{{"seneca", res.Seneca}, {"stoa", res.Stoa}} {
		side, rs := sr.side, sr.rs
		if len(rs) != rounds {
			t.Errorf("%s ran %d rounds, want %d", side, len(rs), rounds)
		}
		for i, r := range rs {
			if string(r.Reply) != Reply {
				t.Errorf("%s round %d: last reply %s, want %s", side, i+1, r.Reply, Reply)
			}
			if r.Acts <= 0 || r.Seconds <= 0 || r.ActsPerS <= 0 {
				t.Errorf("%s round %d: %d acts in %g s (%g acts/s), want all > 0", side, i+1, r.Acts, r.Seconds, r.ActsPerS)
			}
			t.Logf("round %d: %-6s %12.0f acts/s (%d acts in %.3f s)", i+1, side, r.ActsPerS, r.Acts, r.Seconds)
		}
	}
	if t.Failed() {
		return
	}
	version := res.Seneca[0].Version
	if version == "" {
		t.Errorf("%s did not report Seneca's version", Script)
	}
	t.Logf("seneca %s: %.0f acts/s; stoa: %.0f acts/s; ratio %.1f× (goal ≥ %d×)",
		version, res.SenecaActsPerS(), res.StoaActsPerS(), res.Ratio(), Goal)

	if *compareMode == "" {
		return
	}
	if err := compare.Write(os.Stdout, compare.Line{
		Name:      "inproc",
		What:      "in-process acts, " + Pattern + ", one at a time",
		Unit:      "acts/s",
		Peer:      "seneca " + version,
		PeerValue: res.SenecaActsPerS(),
		StoaValue: res.StoaActsPerS(),
		Ratio:     res.Ratio(),
		Goal:      Goal,
		Rounds:    rounds,
	}); err != nil {
		t.Fatal(err)
	}
}

func TestResultMedians(t *testing.T) {
	rounds := func(v ...float64) []Round {
		rs := make([]Round, len(v))
		for i, x := range v {
			rs[i].ActsPerS = x
		}
		return rs
	}
	for _, tc := range []struct {
		name         string
		res          Result
		seneca, stoa float64
		ratio        float64
	}{
		{"empty", Result{}, 0, 0, 0},
		{"one round", Result{rounds(10), rounds(1000)}, 10, 1000, 100},
		{"odd rounds", Result{rounds(30, 10, 20), rounds(900, 5000, 1000)}, 20, 1000, 50},
		{"even rounds", Result{rounds(10, 40, 20, 30), rounds(100, 400)}, 25, 250, 10},
	} {
		if got := tc.res.SenecaActsPerS(); got != tc.seneca {
			t.Errorf("%s: SenecaActsPerS() = %g, want %g", tc.name, got, tc.seneca)
		}
		if got := tc.res.StoaActsPerS(); got != tc.stoa {
			t.Errorf("%s: StoaActsPerS() = %g, want %g", tc.name, got, tc.stoa)
		}
		if got := tc.res.Ratio(); got != tc.ratio {
			t.Errorf("%s: Ratio() = %g, want %g", tc.name, got, tc.ratio)
		}
	}
}

// TestStoaChecksReplies runs the Stoa side alone, without Node.
func TestStoaChecksReplies(t *testing.T) {
	r, err := Stoa(t.Context(), 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Acts != 10 || string(r.Reply) != Reply {
		t.Errorf("Stoa(10, 1) = %d acts, reply %s; want 10 acts, reply %s", r.Acts, r.Reply, Reply)
	}
}

func TestRunNeedsNodeDir(t *testing.T) {
	if _, err := Run(t.Context(), Config{}); err == nil {
		t.Error("Run with no NodeDir: got no error")
	}
}
