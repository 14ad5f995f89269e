package lambda

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bundles built once per test binary by TestMain: real aws-lambda-go
// functions from testdata/fn, compiled into a `bootstrap` each.
var (
	echoBundle  string // testdata/fn/echo
	probeBundle string // testdata/fn/probe
	nodeBundle  string // testdata/fn/node (copied as is)
	testDir     string // Config.Dir for every test environment
)

func TestMain(m *testing.M) {
	if os.Getenv(onePEnv) != "" { // TestOneP's child
		os.Exit(onePChild())
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	work, err := os.MkdirTemp("", "stoa-lambda-bundles-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	// Outside /tmp, so that each environment's private /tmp hides nothing
	// the tests look for, and the 0700 checks face real host paths.
	base := "/var/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = ""
	}
	if testDir, err = os.MkdirTemp(base, "stoa-lambda-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(testDir)

	echoBundle = filepath.Join(work, "echo")
	probeBundle = filepath.Join(work, "probe")
	nodeBundle, _ = filepath.Abs("testdata/fn/node")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []struct{ pkg, out string }{{"./testdata/fn/echo", echoBundle}, {"./testdata/fn/probe", probeBundle}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(b.out, "bootstrap"), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as Lambda's provided runtimes want
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// logSink collects log lines and lets a test wait for one.
type logSink struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newLogSink() *logSink { return &logSink{added: make(chan struct{}, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.lines = append(s.lines, string(p))
	s.mu.Unlock()
	select {
	case s.added <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *logSink) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// waitFor returns the lines once one starts with prefix, or fails after 5 s.
func (s *logSink) waitFor(t *testing.T, prefix string) []string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		lines := s.snapshot()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return lines
			}
		}
		select {
		case <-s.added:
		case <-deadline:
			t.Fatalf("no log line starting %q; got %q", prefix, lines)
		}
	}
}

// start starts an environment for t and closes it when t ends.
func start(t *testing.T, cfg Config) *Env {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = testDir
	}
	e, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.Bundle, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// call invokes the probe with an op and decodes the answer into a map.
func call(t *testing.T, e *Env, event string) (map[string]any, *Result) {
	t.Helper()
	res, err := e.Invoke(t.Context(), []byte(event), InvokeOpts{})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	if res.FunctionError != "" {
		t.Fatalf("Invoke(%s): function error %s: %s", event, res.ErrorType, res.Payload)
	}
	var m map[string]any
	if err := json.Unmarshal(res.Payload, &m); err != nil {
		t.Fatalf("Invoke(%s): answer %q is not an object: %v", event, res.Payload, err)
	}
	return m, res
}

// needRoot skips limit tests that only root can enforce, saying so.
func needRoot(t *testing.T, what string) {
	t.Helper()
	for _, l := range HostLimits() {
		if l.Name == what && !l.Enforced {
			t.Skipf("limit %q is not enforced on this host (%s); run the tests as root (CI does)", what, l.How)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// waitSpare waits until a spare sandbox for (dir, tmpMB) is ready, if the
// host makes them; the caller holds one (HoldSpare). A benchmark of cold
// starts then measures the steady state, where spares are refilled between
// cold starts.
func waitSpare(dir string, tmpMB int) {
	if !probeHost().sandboxed() {
		return
	}
	key := spareKey{dir, tmpMB}
	for {
		startRefill(probeHost(), key)
		spares.Lock()
		for spares.m[key] == nil && spares.filling[key] {
			spares.changed.Wait()
		}
		ok := spares.m[key] != nil
		spares.Unlock()
		if ok {
			return
		}
	}
}

// waitParked waits until the runtime waits in "next".
func (e *Env) waitParked() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.parked == 0 {
		e.parkedCond.Wait()
	}
}
