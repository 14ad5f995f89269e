package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests of this file run the stoa command itself, built once, as
// processes: stoa up, stoa base, stoa gateway, stoa worker and stoa fn, as
// a user types them.

var (
	buildOnce sync.Once
	stoaBin   string
	buildErr  error
)

// stoaCommand builds the stoa command once for the package's tests.
func stoaCommand(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		stoaBin = filepath.Join(envDir, "stoa")
		cmd := exec.Command("go", "build", "-o", stoaBin, "github.com/stoaproject/stoa/cmd/stoa")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/stoa: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return stoaBin
}

// cleanEnv is the test's environment without what would point a stoa
// command elsewhere (NATS_URL, STOA_GATEWAY_TOKEN), plus extra.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_") && !strings.HasPrefix(kv, "STOA_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// proc is a long-running stoa process whose stdout is read line by line.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	code  int
	errb  *lockedBuffer
}

// lockedBuffer collects a process's stderr while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs `stoa args` in dir and waits for the stdout line starting
// with ready, returning the lines printed until then. The process is
// interrupted (SIGINT) at cleanup if still running.
func start(t *testing.T, dir, ready string, args ...string) (*proc, []string) {
	t.Helper()
	p := &proc{t: t, name: "stoa " + strings.Join(args, " "), lines: make(chan string, 256), done: make(chan struct{}), errb: &lockedBuffer{}}
	p.cmd = exec.Command(stoaCommand(t), args...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stderr = dir, cleanEnv(), p.errb
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		if err := p.cmd.Wait(); err != nil {
			p.code = -1
			if ee, ok := err.(*exec.ExitError); ok {
				p.code = ee.ExitCode()
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() { p.stop() })
	var seen []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				t.Fatalf("%s exited %d before printing %q; stdout %q; stderr %s", p.name, p.code, ready, seen, p.errb)
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, ready) {
				return p, seen
			}
		case <-timeout:
			t.Fatalf("%s: no %q line within 60 s; stdout %q; stderr %s", p.name, ready, seen, p.errb)
		}
	}
}

// stop interrupts the process as Ctrl-C does, waits for it to exit and
// returns the rest of its stdout and its exit code.
func (p *proc) stop() (rest []string, code int) {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGINT)
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if ok {
				rest = append(rest, l)
				continue
			}
			<-p.done
			return rest, p.code
		case <-timeout:
			p.cmd.Process.Kill()
			p.t.Errorf("%s did not stop within 60 s of SIGINT", p.name)
			<-p.done
			return rest, -1
		}
	}
}

// result is what one stoa command did.
type result struct {
	code           int
	stdout, stderr string
}

// stoaRun runs one stoa command in dir with the extra environment given.
func stoaRun(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stoaCommand(t), args...)
	cmd.Dir, cmd.Env = dir, cleanEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("stoa %q: %v", args, err)
	}
	return r
}

// mustStoa runs a stoa command and fails the test unless it exits 0.
func mustStoa(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := stoaRun(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("stoa %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// curl runs the real curl, as the chapter does, and returns the status
// and the body.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: make deps installs it")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %q: %v", args, err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	var status int
	fmt.Sscan(s[i+1:], &status)
	return status, s[:i]
}

// writeFunction writes a Node function's bundle: app.js with the source.
func writeFunction(t *testing.T, source string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.js"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Node functions of these tests.
const (
	// greetJS answers a proxy response naming the path it was called on.
	greetJS = `exports.handler = async (event) => ({
  statusCode: 200,
  headers: { "Content-Type": "text/plain" },
  body: "hello from node at " + event.path,
});
`
	// mirrorJS answers the request's body as it came.
	mirrorJS = `exports.handler = async (event) => ({
  statusCode: 200,
  headers: { "Content-Type": event.headers["Content-Type"] || "application/octet-stream" },
  body: event.body,
  isBase64Encoded: event.isBase64Encoded,
});
`
)
