package hellofn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa/internal/cli"
)

// stoa runs the stoa command in process, in dir's .stoa.
func stoa(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(t.Context(), append(args, "--data", dir), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestHelloFn runs stoa up, deploys the Go and the Node function as the
// package doc says, and invokes each.
func TestHelloFn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs functions; run without -short")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: the Node half of the example needs it")
	}
	dir := t.TempDir()

	// stoa up, until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"up", "--data", dir, "--listen", "127.0.0.1:0", "--http", "", "--gateway", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("stoa up exited %d", code)
		}
	})
	lines := bufio.NewScanner(pr)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "stoa up: ready") {
	}
	go io.Copy(io.Discard, pr)

	for _, c := range []struct {
		name, runtime string
		args          []string
	}{
		{"hello-go", "go", []string{"--runtime", "go", "go"}},
		{"hello-node", "node", []string{"--runtime", "node", "--handler", "app.handler", "node"}},
	} {
		t.Run(c.runtime, func(t *testing.T) {
			t0 := time.Now()
			out, errs, code := stoa(t, dir, append([]string{"fn", "create", "--name", c.name}, c.args...)...)
			if code != 0 {
				t.Fatalf("stoa fn create %s: exit %d: %s", c.name, code, errs)
			}
			var created struct {
				Lambda struct {
					Name    string `json:"name"`
					Version int    `json:"version"`
				} `json:"lambda"`
			}
			if err := json.Unmarshal([]byte(out), &created); err != nil || created.Lambda.Name != c.name || created.Lambda.Version != 1 {
				t.Errorf("stoa fn create printed %s (%v), want lambda.name %s, version 1", out, err, c.name)
			}
			t.Logf("deployed %s in %v", c.name, time.Since(t0).Round(time.Millisecond))

			out, errs, code = stoa(t, dir, "fn", "invoke", c.name, "--payload", `{"name":"Ada"}`)
			if code != 0 {
				t.Fatalf("stoa fn invoke %s: exit %d: %s", c.name, code, errs)
			}
			var reply struct {
				Message, Runtime, RequestID string
			}
			if err := json.Unmarshal([]byte(out), &reply); err != nil || reply.Message != "Hello, Ada!" || reply.Runtime != c.runtime || reply.RequestID == "" {
				t.Errorf("stoa fn invoke %s printed %s (%v), want Hello, Ada! from %s with a request id", c.name, out, err, c.runtime)
			}
			// The REPORT line is stored just after the reply: follow the
			// log until it is there.
			lctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
			defer stop()
			logs := &untilWriter{want: "REPORT RequestId: " + reply.RequestID, found: stop}
			cli.Main(lctx, []string{"fn", "logs", c.name, "--follow", "--data", dir}, strings.NewReader(""), logs, io.Discard)
			if text := logs.String(); !strings.Contains(text, "saying hello to Ada") || !strings.Contains(text, logs.want) {
				t.Errorf("stoa fn logs %s:\n%s", c.name, text)
			}
		})
	}
}

// untilWriter keeps what is written and calls found once it holds want.
type untilWriter struct {
	bytes.Buffer
	want  string
	found func()
}

func (w *untilWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.want) {
		w.found()
	}
	return n, err
}
