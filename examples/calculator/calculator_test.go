package calculator_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a running example process whose stdout is read line by line.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	errb  bytes.Buffer
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 16)}
	p.cmd.Stderr = &p.errb
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
			p.lines <- sc.Text()
		}
		close(p.lines)
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// line waits for the next line starting with prefix.
func (p *proc) line(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited before printing %q: %s", p.cmd.Path, prefix, p.errb.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("%s printed no %q in 30 s", p.cmd.Path, prefix)
		}
	}
}

// stop sends SIGTERM and checks that the process exits 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s after SIGTERM: %v: %s", filepath.Base(p.cmd.Path), err, p.errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop on SIGTERM", filepath.Base(p.cmd.Path))
	}
}

// TestCalculator builds the example's four programs, starts them as the
// chapter does (base, add, subtract, then the calculator) and checks the
// calculator's two lines.
func TestCalculator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs four processes")
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(os.PathSeparator), "./base", "./add", "./subtract", "./calculator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := start(t, filepath.Join(bin, "base"), "-listen", "127.0.0.1:0")
	url := strings.TrimPrefix(base.line(t, "ready nats="), "ready nats=")
	add := start(t, filepath.Join(bin, "add"), "-nats", url)
	sub := start(t, filepath.Join(bin, "subtract"), "-nats", url)
	add.line(t, "ready")
	sub.line(t, "ready")

	calc := exec.CommandContext(ctx, filepath.Join(bin, "calculator"), "-nats", url)
	out, err := calc.CombinedOutput()
	if err != nil {
		t.Fatalf("calculator: %v\n%s", err, out)
	}
	for _, want := range []string{"Addition result -> 10\n", "Subtraction result -> 4\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("calculator printed %q, want a line %q", out, strings.TrimSpace(want))
		}
	}
	add.stop(t)
	sub.stop(t)
	base.stop(t)
}
