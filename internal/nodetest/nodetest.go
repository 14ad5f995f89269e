// Package nodetest runs the pinned Node peers (real Seneca, and later
// claudia-api-builder) that Stoa's tests compare against. The packages are
// installed by `make deps` into testdata/npm at the root of the module.
package nodetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Dir is the absolute path of testdata/npm, where the pinned packages and
// the oracle scripts live.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "npm")
}

// Require skips t in -short mode and fails it when Node or the pinned
// packages are missing, saying how to install them.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the Node peer in -short mode")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH; install Node 20 and run `make deps`")
	}
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "seneca")); err != nil {
		t.Fatal("the pinned npm packages are missing; run `make deps` (npm ci in testdata/npm)")
	}
}

// Run runs a script from Dir with stdin and returns its stdout.
func Run(t testing.TB, script string, stdin []byte) []byte {
	t.Helper()
	Require(t)
	cmd := exec.CommandContext(t.Context(), "node", filepath.Join(Dir(), script))
	cmd.Dir = Dir()
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(fmt.Errorf("node %s: %w\n%s", script, err, stderr.Bytes()))
	}
	return out
}

// Proc is a long-running Node script, started by Start or Launch, that
// prints one ready line on stdout and then, if it takes requests, answers
// each JSON line on its stdin with one JSON line on stdout.
type Proc struct {
	// Ready is the first line the script printed, without its newline.
	Ready []byte

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stdout *os.File
	stderr *syncBuffer
	mu     sync.Mutex // one Call at a time
	done   chan struct{}
	once   sync.Once
}

// readyWait is how long a script may take to print its ready line.
const readyWait = 30 * time.Second

// Start runs script from Dir with args and waits for its ready line; t
// fails if the script exits or says nothing for 30 s first. The process is
// killed when t's test ends.
func Start(t testing.TB, script string, args ...string) *Proc {
	t.Helper()
	Require(t)
	p, err := Launch(context.Background(), script, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Launch is Start without a test: it runs script from Dir with args and
// returns once it has printed its ready line. The caller must Close it.
func Launch(ctx context.Context, script string, args ...string) (*Proc, error) {
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(Dir(), script)}, args...)...)
	cmd.Dir = Dir()
	p := &Proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	// A pipe of our own, not StdoutPipe: Wait closes that one when the
	// process exits, which could lose a last line not yet read.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("node %s: %w", script, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	p.stdout = stdout
	p.out = bufio.NewReaderSize(stdout, 1<<16)
	ready := make(chan error, 1)
	go func() {
		line, err := p.out.ReadBytes('\n')
		p.Ready = bytes.TrimSpace(line)
		ready <- err
	}()
	timer := time.NewTimer(readyWait)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("no ready line after %v", readyWait)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("node %s: %w\n%s", script, err, p.Stderr())
	}
	return p, nil
}

// Call writes req as one JSON line to the script and decodes the line it
// answers into resp. Calls are answered one at a time, in order.
func (p *Proc) Call(req, resp any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write to node: %w\n%s", err, p.Stderr())
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read from node: %w\n%s", err, p.Stderr())
	}
	if err := json.Unmarshal(line, resp); err != nil {
		return fmt.Errorf("node answered %q: %w", line, err)
	}
	return nil
}

// Stderr is what the script has written on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Close kills the script and waits for it to exit.
func (p *Proc) Close() {
	p.once.Do(func() {
		p.stdin.Close()
		if p.cmd.Process != nil {
			p.cmd.Process.Kill()
		}
		<-p.done
		p.stdout.Close()
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
