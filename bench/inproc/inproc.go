package inprocbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/stoaproject/stoa"
)

// Goal is the ratio of Stoa's acts per second to Seneca's that issue 3 asks
// for.
const Goal = 100

// Pattern is the pattern both sides add.
const Pattern = "role:math,cmd:sum"

// Reply is the reply every act must get, as JSON.
const Reply = `{"answer":3}`

// Script is the Node script of the Seneca side, in the npm directory.
const Script = "bench-inproc.js"

// Config sizes a comparison. A zero field takes the default given with it.
type Config struct {
	// NodeDir is the directory holding Script and the node_modules with
	// Seneca (testdata/npm at the root of the module). Required.
	NodeDir string

	// SenecaActs is the number of timed acts per Seneca round (default
	// 100,000: about 5 s at Seneca's 20,000 acts/s).
	SenecaActs int

	// StoaActs is the number of timed acts per Stoa round (default
	// 1,000,000: about 1.5 s). Each side gets enough acts to run for a while,
	// so that both meet the machine's noise; acts/s does not depend on N.
	StoaActs int

	// Warmup is the number of untimed acts each side runs before its timed
	// ones (default 5,000), for the JIT and the Go runtime to settle.
	Warmup int

	// Rounds is the number of times each side runs (default 3). The sides
	// alternate, and which one goes first alternates too.
	Rounds int
}

// Round is one timed loop of one side. Its JSON is what Script prints.
type Round struct {
	// Acts is the number of timed acts.
	Acts int `json:"acts"`
	// Seconds is how long they took, the warm-up left out.
	Seconds float64 `json:"seconds"`
	// ActsPerS is Acts/Seconds.
	ActsPerS float64 `json:"acts_per_s"`
	// Reply is the last act's reply; every reply was checked against Reply.
	Reply json.RawMessage `json:"reply"`
	// Version is Seneca's version, "" for Stoa.
	Version string `json:"version"`
}

// Result is what Run measured.
type Result struct {
	// Seneca and Stoa hold each side's rounds in the order they ran.
	Seneca, Stoa []Round
}

// SenecaActsPerS is the median of Seneca's acts per second over the rounds.
func (r Result) SenecaActsPerS() float64 { return median(r.Seneca) }

// StoaActsPerS is the median of Stoa's acts per second over the rounds.
func (r Result) StoaActsPerS() float64 { return median(r.Stoa) }

// Ratio is how many times Seneca's acts per second Stoa's are (medians);
// above 1, Stoa is faster.
func (r Result) Ratio() float64 {
	s := r.SenecaActsPerS()
	if s == 0 {
		return 0
	}
	return r.StoaActsPerS() / s
}

func median(rs []Round) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = r.ActsPerS
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// Run runs cfg.Rounds rounds of each side, alternating them, and returns
// every round. It stops at the first error, which names the side.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.NodeDir == "" {
		return Result{}, errors.New("inprocbench: Config.NodeDir is required")
	}
	if cfg.SenecaActs <= 0 {
		cfg.SenecaActs = 100_000
	}
	if cfg.StoaActs <= 0 {
		cfg.StoaActs = 1_000_000
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 5_000
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	var res Result
	seneca := func() error {
		r, err := Seneca(ctx, cfg.NodeDir, cfg.SenecaActs, cfg.Warmup)
		if err != nil {
			return err
		}
		res.Seneca = append(res.Seneca, r)
		return nil
	}
	stoa := func() error {
		r, err := Stoa(ctx, cfg.StoaActs, cfg.Warmup)
		if err != nil {
			return err
		}
		res.Stoa = append(res.Stoa, r)
		return nil
	}
	for i := range cfg.Rounds {
		first, second := seneca, stoa
		if i%2 == 1 {
			first, second = stoa, seneca
		}
		if err := first(); err != nil {
			return res, err
		}
		if err := second(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Seneca runs Script in dir with the node on PATH: warmup untimed acts,
// then n timed ones. The script checks every reply and reports the last.
func Seneca(ctx context.Context, dir string, n, warmup int) (Round, error) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, Script), strconv.Itoa(n), strconv.Itoa(warmup))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Round{}, fmt.Errorf("seneca: node %s: %w\n%s", Script, err, stderr.Bytes())
	}
	var r Round
	if err := json.Unmarshal(out, &r); err != nil {
		return Round{}, fmt.Errorf("seneca: %s printed %q: %w", Script, out, err)
	}
	if r.Acts != n || r.Seconds <= 0 {
		return r, fmt.Errorf("seneca: %s printed %s for %d acts", Script, bytes.TrimSpace(out), n)
	}
	return r, nil
}

type sumOut struct {
	Answer int `json:"answer"`
}

// sum is the handler of Pattern: the Go twin of the script's.
func sum(_ context.Context, m stoa.Msg) (any, error) {
	l, ok1 := m["left"].(int)
	r, ok2 := m["right"].(int)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("left and right must be ints, got %T and %T", m["left"], m["right"])
	}
	return sumOut{Answer: l + r}, nil
}

// Stoa acts on a new engine in this process: warmup untimed acts, then n
// timed ones, each checked against Reply.
func Stoa(ctx context.Context, n, warmup int) (Round, error) {
	e := stoa.New()
	defer e.Close(context.WithoutCancel(ctx))
	if err := e.Add(Pattern, sum); err != nil {
		return Round{}, fmt.Errorf("stoa: %w", err)
	}
	loop := func(n int) (json.RawMessage, error) {
		var out json.RawMessage
		for range n {
			var err error
			out, err = e.Act(ctx, stoa.Msg{"role": "math", "cmd": "sum", "left": 1, "right": 2})
			if err != nil {
				return nil, fmt.Errorf("stoa: act: %w", err)
			}
			if string(out) != Reply {
				return nil, fmt.Errorf("stoa: act replied %s, want %s", out, Reply)
			}
		}
		return out, nil
	}
	if _, err := loop(warmup); err != nil {
		return Round{}, err
	}
	runtime.GC() // start from a clean heap, as each Node process does
	start := time.Now()
	out, err := loop(n)
	secs := time.Since(start).Seconds()
	if err != nil {
		return Round{}, err
	}
	return Round{Acts: n, Seconds: secs, ActsPerS: float64(n) / secs, Reply: out}, nil
}
