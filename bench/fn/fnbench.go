package fnbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/internal/lambdastub"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// What every contender is sent and must answer.
const (
	// Payload is the event: the echo function answers it unchanged.
	Payload = `{"hello":"world","n":42}`
	// InFlight is the concurrency of the second throughput loop.
	InFlight = 32
	// RIEModule and RIEVersion name AWS's Lambda Runtime Interface
	// Emulator as the Go module proxy serves it (LAMBDA.md).
	RIEModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"
	// ColdGoal is issue 6's goal for a Go cold start, in µs.
	ColdGoal = 20_000
	// WarmGoal is how much a warm invoke may add to the floor's p50, in µs.
	WarmGoal = 150
)

// The messages the caller sends: to the function, and to the floor, a
// plain Go handler doing the same JSON work with no function behind it.
var (
	fnMsg    = json.RawMessage(`{"fn":"echo","payload":` + Payload + `}`)
	floorMsg = json.RawMessage(`{"role":"floor","payload":` + Payload + `}`)
)

// Config says how much to measure. Work is required; the zero value of
// each other field measures nothing of that kind.
type Config struct {
	Work    string        // a directory for the builds and the environments
	Seq     int           // sequential invocations per contender and round
	Tput    time.Duration // length of each throughput loop
	Cold    int           // cold starts per runtime and round
	ColdGap time.Duration // pause before each cold start (cold starts come apart, as scale-from-zero ones do)
	Rounds  int           // rounds; each runs every contender
	RIE     string        // the aws-lambda-rie binary; "" leaves the emulator out
	Log     io.Writer     // progress; nil for none
	EnvDir  string        // lambda.Config.Dir; "" for the default

	// Bootstrap is the echo function, built by BuildEcho (required).
	Bootstrap string
	// NodeBundle is the Node echo's directory (testdata/node); "" leaves
	// the Node cold start out (no node on PATH).
	NodeBundle string
}

// Phase is one loop of invocations: how many, how long, and latencies in µs.
type Phase struct {
	Acts     int     `json:"acts"`
	Seconds  float64 `json:"seconds"`
	P50, P99 float64 // µs
}

// PerS is the loop's throughput.
func (p Phase) PerS() float64 {
	if p.Seconds == 0 {
		return 0
	}
	return float64(p.Acts) / p.Seconds
}

// Side is what one contender measured in a round.
type Side struct {
	Seq    Phase // one at a time: p50, p99, throughput
	Tput1  Phase // one at a time for Config.Tput
	Tput32 Phase // InFlight at a time for Config.Tput
}

// Round is one round's measurements; cold starts in µs (medians of the
// round's Config.Cold).
type Round struct {
	Floor, Fn, RIE       Side
	Stub                 Side // the echo under internal/lambdastub: the client's own cost, one at a time
	ColdGo, ColdNode     float64
	ColdRIE              float64 // the emulator's first invoke (it starts the runtime lazily)
	ColdGoAll, ColdNodes []float64
}

// BuildEcho builds testdata/echo into dir/bootstrap, statically, as
// Lambda's provided runtimes want.
func BuildEcho(ctx context.Context, src, dir string) (string, error) {
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("fnbench: go build %s: %v\n%s", src, err, b)
	}
	return out, nil
}

// BuildRIE installs AWS's Runtime Interface Emulator (RIEModule at
// RIEVersion, through the Go module proxy) into dir and returns its path.
// An existing binary is reused.
func BuildRIE(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "aws-lambda-rie")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule+"@"+RIEVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("fnbench: go install %s@%s: %v\n%s", RIEModule, RIEVersion, err, b)
	}
	return bin, nil
}

// stack is the system under test: an embedded NATS server with JetStream,
// the registry holding the echo functions, a worker, the floor's provider
// and a caller engine, each with its own connection as separate programs
// would have. The worker and the floor reach the server in process, as in
// stoa up; the caller over TCP.
type stack struct {
	srv    *server.Server
	conns  []*nats.Conn
	w      *worker.Worker
	nodes  []*mesh.Node
	caller *stoa.Engine
	floor  *stoa.Engine
}

func newStack(ctx context.Context, cfg Config) (_ *stack, err error) {
	s := &stack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	o := natstest.Options()
	o.JetStream, o.StoreDir, o.MaxPayload = true, filepath.Join(cfg.Work, "jetstream"), 8<<20
	if s.srv, err = natstest.Start(o); err != nil {
		return nil, err
	}
	conn := func(name string, extra ...nats.Option) (*nats.Conn, error) {
		opts, err := mesh.Options(name, mesh.Auth{})
		if err != nil {
			return nil, err
		}
		nc, err := nats.Connect(s.srv.ClientURL(), append(opts, extra...)...)
		if err == nil {
			s.conns = append(s.conns, nc)
		}
		return nc, err
	}
	wc, err := conn("fnbench-worker", nats.InProcessServer(s.srv))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(wc)
	if err != nil {
		return nil, err
	}
	reg, err := fn.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	bundle := filepath.Dir(cfg.Bootstrap)
	fns := []struct {
		name string
		cfg  fn.Config
		dir  string
	}{
		{"echo", fn.Config{Runtime: fn.RuntimeProvided, Concurrency: InFlight}, bundle},
		{"echo-cold", fn.Config{Runtime: fn.RuntimeProvided, Concurrency: 1}, bundle},
	}
	if cfg.NodeBundle != "" {
		fns = append(fns, struct {
			name string
			cfg  fn.Config
			dir  string
		}{"echo-node", fn.Config{Runtime: fn.RuntimeNode, Handler: "index.handler", Concurrency: 1}, cfg.NodeBundle})
	}
	for _, f := range fns {
		if _, err := reg.Create(ctx, f.name, f.cfg, fn.DirBundle(f.dir)); err != nil {
			return nil, err
		}
	}
	s.w = &worker.Worker{Conn: wc, Registry: reg, Dir: filepath.Join(cfg.Work, "code"), EnvDir: cfg.EnvDir, IdleTimeout: time.Hour}
	if err := s.w.Start(ctx); err != nil {
		s.w = nil
		return nil, err
	}

	fc, err := conn("fnbench-floor", nats.InProcessServer(s.srv))
	if err != nil {
		return nil, err
	}
	s.floor = stoa.New()
	type floorReq struct {
		Role    string          `json:"role"`
		Payload json.RawMessage `json:"payload"`
	}
	s.floor.Add("role:floor", stoa.Handle(func(_ context.Context, req floorReq) (*worker.Reply, error) {
		return &worker.Reply{Version: 1, RequestID: "floor", Payload: req.Payload}, nil
	}))
	fnode, err := mesh.Join(ctx, s.floor, mesh.WithConn(fc), mesh.WithPins("role:floor"), mesh.WithName("fnbench-floor"))
	if err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, fnode)

	cc, err := conn("fnbench-caller")
	if err != nil {
		return nil, err
	}
	s.caller = stoa.New(stoa.WithTimeout(30 * time.Second))
	cnode, err := mesh.Join(ctx, s.caller, mesh.WithConn(cc), mesh.WithName("fnbench-caller"), mesh.WithDiscoveryWait(20*time.Millisecond))
	if err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, cnode)
	for _, p := range []string{worker.Pattern, "role:floor"} {
		if err := cnode.WaitFor(ctx, p, 1); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range slices.Backward(s.nodes) {
		n.Close(ctx)
	}
	if s.w != nil {
		s.w.Shutdown(ctx)
	}
	for _, e := range []*stoa.Engine{s.caller, s.floor} {
		if e != nil {
			e.Close(ctx)
		}
	}
	for _, nc := range s.conns {
		nc.Close()
	}
	if s.srv != nil {
		s.srv.Shutdown()
	}
}

// check reports whether a worker's reply (or the floor's) carries the
// payload unchanged.
func check(out []byte) error {
	var r worker.Reply
	if err := json.Unmarshal(out, &r); err != nil {
		return fmt.Errorf("reply %s: %w", out, err)
	}
	if !bytes.Equal(r.Payload, []byte(Payload)) {
		return fmt.Errorf("reply %s, want payload %s", out, Payload)
	}
	return nil
}

// invoker sends one invocation and checks its reply.
type invoker func(ctx context.Context) error

func (s *stack) act(msg json.RawMessage) invoker {
	return func(ctx context.Context) error {
		out, err := s.caller.Act(ctx, msg)
		if err != nil {
			return err
		}
		return check(out)
	}
}

// seq runs n invocations one after another.
func seq(ctx context.Context, inv invoker, n int) (Phase, error) {
	lat := make([]time.Duration, 0, n)
	t0 := time.Now()
	for range n {
		t := time.Now()
		if err := inv(ctx); err != nil {
			return Phase{}, err
		}
		lat = append(lat, time.Since(t))
	}
	return phase(lat, time.Since(t0)), nil
}

// tput keeps k invocations in flight for d.
func tput(ctx context.Context, inv invoker, k int, d time.Duration) (Phase, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		fail atomic.Pointer[error]
		wg   sync.WaitGroup
	)
	t0 := time.Now()
	end := t0.Add(d)
	for range k {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) && fail.Load() == nil {
				t := time.Now()
				if err := inv(ctx); err != nil {
					fail.Store(&err)
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if p := fail.Load(); p != nil {
		return Phase{}, *p
	}
	return phase(lat, time.Since(t0)), nil
}

func phase(lat []time.Duration, el time.Duration) Phase {
	slices.Sort(lat)
	at := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)]) / 1e3
	}
	return Phase{Acts: len(lat), Seconds: el.Seconds(), P50: at(0.50), P99: at(0.99)}
}

// Run builds the stack and measures cfg.Rounds rounds.
func Run(ctx context.Context, cfg Config) ([]Round, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "fnbench: "+format+"\n", args...)
		}
	}
	s, err := newStack(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	fnInv, floorInv := s.act(fnMsg), s.act(floorMsg)
	stub, err := lambdastub.Start(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	defer stub.Close()
	stubInv := func(ctx context.Context) error {
		out, err := stub.Invoke(ctx, []byte(Payload))
		if err == nil && string(out) != Payload {
			err = fmt.Errorf("stub replied %s, want %s", out, Payload)
		}
		return err
	}
	// Warm up: environments up to InFlight, JIT-free Go still warms caches.
	for _, inv := range []invoker{floorInv, fnInv} {
		if _, err := tput(ctx, inv, InFlight, 300*time.Millisecond); err != nil {
			return nil, fmt.Errorf("fnbench: warm-up: %w", err)
		}
	}
	var rounds []Round
	for r := range cfg.Rounds {
		var rd Round
		side := func(name string, inv invoker, sd *Side, with32 bool) error {
			var err error
			if cfg.Seq > 0 {
				if sd.Seq, err = seq(ctx, inv, cfg.Seq); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			if cfg.Tput > 0 {
				if sd.Tput1, err = tput(ctx, inv, 1, cfg.Tput); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if with32 {
					if sd.Tput32, err = tput(ctx, inv, InFlight, cfg.Tput); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
			}
			logf("round %d %-5s seq p50 %.0f µs p99 %.0f µs; %0.f/s at 1, %.0f/s at %d (p99 %.0f µs)",
				r+1, name, sd.Seq.P50, sd.Seq.P99, sd.Tput1.PerS(), sd.Tput32.PerS(), InFlight, sd.Tput32.P99)
			return nil
		}
		order := []func() error{
			func() error { return side("floor", floorInv, &rd.Floor, true) },
			func() error { return side("fn", fnInv, &rd.Fn, true) },
			func() error { return side("stub", stubInv, &rd.Stub, false) },
		}
		if cfg.RIE != "" {
			order = append(order, func() error {
				var err error
				rd.ColdRIE, err = rie(ctx, cfg, func(inv invoker) error { return side("rie", inv, &rd.RIE, false) })
				return err
			})
		}
		for i := range order { // rotate the order between rounds
			if err := order[(i+r)%len(order)](); err != nil {
				return rounds, err
			}
		}
		cold := func(name string) ([]float64, error) {
			inv := s.act(json.RawMessage(`{"fn":"` + name + `","payload":` + Payload + `}`))
			var all []float64
			for range cfg.Cold {
				s.w.CloseIdle()
				if cfg.ColdGap > 0 {
					time.Sleep(cfg.ColdGap) // a load model: cold starts apart from each other
				}
				t := time.Now()
				if err := inv(ctx); err != nil {
					return nil, fmt.Errorf("%s cold start: %w", name, err)
				}
				all = append(all, float64(time.Since(t))/1e3)
			}
			return all, nil
		}
		if cfg.Cold > 0 {
			if rd.ColdGoAll, err = cold("echo-cold"); err != nil {
				return rounds, err
			}
			rd.ColdGo = median(rd.ColdGoAll)
			if cfg.NodeBundle != "" {
				if rd.ColdNodes, err = cold("echo-node"); err != nil {
					return rounds, err
				}
				rd.ColdNode = median(rd.ColdNodes)
			}
			logf("round %d cold start: go %.1f ms, node %.1f ms (medians of %d), emulator's first invoke %.1f ms",
				r+1, rd.ColdGo/1e3, rd.ColdNode/1e3, cfg.Cold, rd.ColdRIE/1e3)
		}
		rounds = append(rounds, rd)
	}
	return rounds, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Median is the median over rounds of f.
func Median(rounds []Round, f func(Round) float64) float64 {
	v := make([]float64, len(rounds))
	for i, r := range rounds {
		v[i] = f(r)
	}
	return median(v)
}

// rie runs the echo bootstrap under AWS's emulator, times its first
// invoke (the emulator starts the runtime on it), then calls measure with
// an invoker over one keep-alive connection. The emulator has one
// environment and fails on a second concurrent invoke, so it is measured
// one at a time only.
func rie(ctx context.Context, cfg Config, measure func(invoker) error) (cold float64, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(cfg.RIE, "--runtime-interface-emulator-address", addr, cfg.Bootstrap)
	// Only what the emulator needs: it passes its whole environment on.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_TIMEOUT=3", "AWS_LAMBDA_FUNCTION_NAME=echo"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("fnbench: start the emulator: %w", err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for { // the emulator says nothing when it listens: wait until it accepts
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("fnbench: the emulator did not listen on %s: %s", addr, errb.String())
		}
		time.Sleep(time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	inv := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader([]byte(Payload)))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.Equal(bytes.TrimSpace(b), []byte(Payload)) {
			return fmt.Errorf("emulator: %d %s, want 200 %s", resp.StatusCode, b, Payload)
		}
		return nil
	}
	t := time.Now()
	if err := inv(ctx); err != nil {
		return 0, err
	}
	cold = float64(time.Since(t)) / 1e3
	if err := measure(inv); err != nil {
		return cold, err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return cold, ctx.Err()
	}
	return cold, nil
}
