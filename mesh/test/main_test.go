// Package test holds the mesh's end-to-end fault tests: real processes
// killed, drained and cut off, bases of a cluster lost under load. They
// take seconds each; go test -short skips them.
package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// The pins every provider process serves: the same work, once plain and
// once marked idempotent.
const (
	plainPin = "role:load,cmd:plain"
	idemPin  = "role:load,cmd:idem"
)

// TestMain runs this test binary as a provider process when the
// environment asks for one (see startProvider).
func TestMain(m *testing.M) {
	if os.Getenv("STOA_MESHTEST_ROLE") == "provider" {
		if err := provider(); err != nil {
			fmt.Fprintln(os.Stderr, "provider:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if stoaBin != "" {
		os.RemoveAll(filepath.Dir(stoaBin))
	}
	os.Exit(code)
}

// provider serves plainPin and idemPin, each act taking
// STOA_MESHTEST_DELAY, replying {"by": name}; it leaves cleanly on SIGTERM.
func provider() error {
	name := os.Getenv("STOA_MESHTEST_NAME")
	delay, _ := time.ParseDuration(os.Getenv("STOA_MESHTEST_DELAY"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	e := stoa.New()
	h := func(ctx context.Context, m stoa.Msg) (any, error) {
		if delay > 0 {
			time.Sleep(delay)
		}
		return map[string]any{"by": name}, nil
	}
	e.Add(plainPin, h)
	e.Add(idemPin, h)
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	n, err := mesh.Join(jctx, e, mesh.WithURLs(os.Getenv("STOA_MESHTEST_URLS")), mesh.WithName(name),
		mesh.WithPins(plainPin), mesh.WithIdempotentPins(idemPin), mesh.WithDiscoveryWait(20*time.Millisecond))
	cancel()
	if err != nil {
		return err
	}
	fmt.Println("ready", n.ID())
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Close(cctx)
}

// proc is a child process whose stdout is read line by line.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	errb  bytes.Buffer
	done  chan struct{}
	err   error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.Write(b)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// start starts a process and kills it at cleanup if it still runs.
func start(t *testing.T, name string, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan string, 64), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// line waits for the next line starting with prefix.
func (p *proc) line(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %q: %s", p.name, p.err, prefix, p.stderr())
		case <-timeout:
			t.Fatalf("%s printed no %q in 30 s: %s", p.name, prefix, p.stderr())
		}
	}
}

// signal sends sig and, for SIGTERM, checks that the process exits 0.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	if sig != syscall.SIGTERM {
		<-p.done
		return
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s after SIGTERM: %v: %s", p.name, p.err, p.stderr())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop on SIGTERM", p.name)
	}
}

// startProvider runs this binary as a provider process, optionally inside
// network namespace netns, and waits until it has joined.
func startProvider(t *testing.T, name, urls string, delay time.Duration, netns string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{exe, "-test.run=^$"}
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	p := start(t, name, []string{"STOA_MESHTEST_ROLE=provider", "STOA_MESHTEST_NAME=" + name,
		"STOA_MESHTEST_URLS=" + urls, "STOA_MESHTEST_DELAY=" + delay.String()}, argv...)
	p.line(t, "ready")
	return p
}

var (
	stoaOnce sync.Once
	stoaBin  string
	stoaErr  error
)

// stoaCommand builds cmd/stoa once per test binary, into a directory
// TestMain removes.
func stoaCommand(t *testing.T) string {
	t.Helper()
	stoaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stoa-meshtest-")
		if err != nil {
			stoaErr = err
			return
		}
		stoaBin = filepath.Join(dir, "stoa")
		out, err := exec.Command("go", "build", "-o", stoaBin, "github.com/stoaproject/stoa/cmd/stoa").CombinedOutput()
		if err != nil {
			stoaErr = fmt.Errorf("go build cmd/stoa: %v\n%s", err, out)
		}
	})
	if stoaErr != nil {
		t.Fatal(stoaErr)
	}
	return stoaBin
}

// outcome is one act of a load run.
type outcome struct {
	pin        string
	sent, done time.Duration // since the start of the run
	by         string
	err        error
}

// load acts on pins in turn, open loop, at rate acts per second for d,
// each act with timeout; at each key of at, the function runs. Every act
// has finished when load returns.
func load(t *testing.T, e *stoa.Engine, pins []string, rate int, d, timeout time.Duration, at map[time.Duration]func()) []outcome {
	t.Helper()
	var mu sync.Mutex
	var out []outcome
	var wg sync.WaitGroup
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var events []time.Duration
	for k := range at {
		events = append(events, k)
	}
	slices.Sort(events)
	sent := 0
	for el := time.Since(start); el < d; el = time.Since(start) {
		for len(events) > 0 && el >= events[0] {
			at[events[0]]()
			events = events[1:]
		}
		for want := int(el.Seconds() * float64(rate)); sent < want; sent++ {
			pin := pins[sent%len(pins)]
			wg.Go(func() {
				o := outcome{pin: pin, sent: time.Since(start)}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				r, err := stoa.Call[struct{ By string }](ctx, e, pin)
				cancel()
				o.done, o.by, o.err = time.Since(start), r.By, err
				mu.Lock()
				out = append(out, o)
				mu.Unlock()
			})
		}
		<-tick.C
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b outcome) int { return int(a.sent - b.sent) })
	return out
}

// summary counts the failures of pin and finds the longest time without a
// successful reply on it, from `from` to the end of the load: from `from`
// to the first reply after it, between replies, and from the last reply
// to the end (so a pin that never answers again has a gap of end-from).
type summary struct {
	acts, failed     int
	gap              time.Duration
	gapAt            time.Duration
	lastFailSent     time.Duration
	errs             map[string]int
	firstFail, worst time.Duration // send time of the first failure; the longest a failure took
	firstErr         error
}

func summarize(out []outcome, pin string, from, end time.Duration) summary {
	s := summary{errs: map[string]int{}, firstFail: -1}
	var oks []time.Duration
	for _, o := range out {
		if o.pin != pin {
			continue
		}
		s.acts++
		if o.err != nil {
			s.failed++
			s.errs[errCode(o.err)]++
			s.lastFailSent = o.sent
			if s.firstFail < 0 {
				s.firstFail, s.firstErr = o.sent, o.err
			}
			s.worst = max(s.worst, o.done-o.sent)
			continue
		}
		oks = append(oks, o.done)
	}
	slices.Sort(oks)
	prev := from
	for _, d := range oks {
		if d < from || d > end {
			continue
		}
		if d-prev > s.gap {
			s.gap, s.gapAt = d-prev, prev
		}
		prev = d
	}
	if end-prev > s.gap {
		s.gap, s.gapAt = end-prev, prev
	}
	return s
}

func errCode(err error) string {
	var se *stoa.Error
	if e, ok := err.(*stoa.Error); ok {
		se = e
		return se.Code
	}
	return err.Error()
}

func (s summary) String() string {
	return fmt.Sprintf("%d acts, %d failed %v, longest gap %v (from %v)", s.acts, s.failed, s.errs, s.gap.Round(time.Millisecond), s.gapAt.Round(time.Millisecond))
}

func itoa(i int) string { return strconv.Itoa(i) }
