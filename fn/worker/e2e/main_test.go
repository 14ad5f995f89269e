// Package e2e holds the end-to-end tests of functions: the real stoa
// binary (stoa up, stoa worker, stoa fn ...) run as processes in a
// temporary directory, functions deployed, invoked, updated under load,
// and the whole restarted. They take seconds each; go test -short skips
// them.
package e2e

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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/fn/worker"
	"github.com/stoaproject/stoa/mesh"
)

// Built once by TestMain.
var (
	stoaBin              string // the stoa command
	bundleOne, bundleTwo string // the worker tests' echo function, tag.txt "one" and "two"
	nodeBundle           string // a Node function: app.handler answers {tag, event}
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	work, err := os.MkdirTemp("", "stoa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	stoaBin = filepath.Join(work, "stoa")
	bundleOne, bundleTwo, nodeBundle = filepath.Join(work, "one"), filepath.Join(work, "two"), filepath.Join(work, "node")
	build := func(out, pkg string) error {
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = build(stoaBin, "github.com/stoaproject/stoa/cmd/stoa") })
	wg.Go(func() { errs[1] = build(filepath.Join(bundleOne, "bootstrap"), "../testdata/fn/echo") })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	files := map[string]string{
		filepath.Join(bundleOne, "tag.txt"): "one\n",
		filepath.Join(bundleTwo, "tag.txt"): "two\n",
		filepath.Join(nodeBundle, "app.js"): "exports.handler = async (event) => {\n" +
			"  console.log('node got', JSON.stringify(event));\n" +
			"  return { tag: 'node', event };\n};\n",
	}
	bin, err := os.ReadFile(filepath.Join(bundleOne, "bootstrap"))
	if err == nil {
		files[filepath.Join(bundleTwo, "bootstrap")] = string(bin)
	}
	for path, content := range files {
		if err == nil {
			err = os.MkdirAll(filepath.Dir(path), 0o755)
		}
		if err == nil {
			err = os.WriteFile(path, []byte(content), 0o755)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// skipShort skips t under go test -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with processes; run without -short")
	}
}

// env is the environment of a stoa process: the test's, without the NATS
// variables that would point it elsewhere.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_") {
			out = append(out, kv)
		}
	}
	return out
}

// result is what one stoa command did.
type result struct {
	code           int
	stdout, stderr string
}

// stoaCmd runs the stoa command in dir, where a stoa up keeps ./.stoa.
func stoaCmd(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stoaBin, args...)
	cmd.Dir, cmd.Env = dir, env()
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

// mustStoa runs the stoa command and fails t unless it exits 0.
func mustStoa(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := stoaCmd(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("stoa %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// daemon is a long-running stoa process (up or worker) whose stdout is
// read line by line.
type daemon struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	code  int
	errb  *bytes.Buffer
}

// startDaemon runs stoa args in dir and waits for the line starting with
// ready; it returns the lines printed until then. The process is
// interrupted at cleanup if still running.
func startDaemon(t *testing.T, dir, ready string, args ...string) (*daemon, []string) {
	t.Helper()
	cmd := exec.Command(stoaBin, args...)
	cmd.Dir, cmd.Env = dir, env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{}), errb: &bytes.Buffer{}}
	cmd.Stderr = d.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			d.code = ee.ExitCode()
		} else if err != nil {
			d.code = -1
		}
		close(d.done)
	}()
	t.Cleanup(func() { d.stop() })
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				<-d.done
				t.Fatalf("stoa %s exited %d before %q; stdout %q; stderr %s", strings.Join(args, " "), d.code, ready, seen, d.errb)
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, ready) {
				return d, seen
			}
		case <-timeout:
			t.Fatalf("stoa %s: no %q line after 30 s; stdout %q", strings.Join(args, " "), ready, seen)
		}
	}
}

// stop interrupts the process (Ctrl-C), waits for it, and returns the
// rest of its stdout and its exit code.
func (d *daemon) stop() (rest []string, code int) {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGINT)
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-d.lines:
			if ok {
				rest = append(rest, l)
				continue
			}
			<-d.done
			return rest, d.code
		case <-timeout:
			d.cmd.Process.Kill()
			d.t.Errorf("stoa did not stop within 60 s of SIGINT")
			<-d.done
			return rest, -1
		}
	}
}

// natsURL reads the URL stoa up wrote in dir's .stoa.
func natsURL(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".stoa", "nats.url"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// caller joins an engine to the mesh at url, as any service would, and
// waits until n workers serve fn:*.
func caller(t *testing.T, url string, n int) *stoa.Engine {
	t.Helper()
	e := stoa.New(stoa.WithTimeout(30 * time.Second))
	t.Cleanup(func() { e.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	node, err := mesh.Join(ctx, e, mesh.WithURLs(url), mesh.WithName("e2e-caller"), mesh.WithDiscoveryWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		node.Close(ctx)
	})
	if err := node.WaitFor(ctx, worker.Pattern, n); err != nil {
		t.Fatal(err)
	}
	return e
}

// echoOut is the echo function's answer inside a worker's reply.
type echoOut struct {
	Tag   string          `json:"tag"`
	Event json.RawMessage `json:"event"`
}

// invoke acts fn:name through e and returns the version and the echo's tag.
func invoke(ctx context.Context, e *stoa.Engine, name string) (int, string, error) {
	r, err := stoa.Call[worker.Reply](ctx, e, stoa.Msg{"fn": name})
	if err != nil {
		return 0, "", err
	}
	var out echoOut
	if err := json.Unmarshal(r.Payload, &out); err != nil {
		return r.Version, "", fmt.Errorf("payload %s: %v", r.Payload, err)
	}
	return r.Version, out.Tag, nil
}

// functionProcs counts the live processes running as function name (see
// fn/worker's tests); it needs root to read other uids' environ.
func functionProcs(name string) int {
	want := "AWS_LAMBDA_FUNCTION_NAME=" + name + "\x00"
	dirs, _ := filepath.Glob("/proc/[0-9]*/environ")
	n := 0
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil && strings.Contains(string(b), want) {
			n++
		}
	}
	return n
}

var _ = io.Discard
