package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bundles built once by TestMain: the echo function (testdata/fn/echo)
// with tag.txt "one", and the same binary with tag.txt "two".
var (
	bundleOne, bundleTwo string
	envDir               string // lambda.Config.Dir of every test environment
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	work, err := os.MkdirTemp("", "stoa-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(work)
	bundleOne, bundleTwo = filepath.Join(work, "one"), filepath.Join(work, "two")
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bundleOne, "bootstrap"), "./testdata/fn/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build testdata/fn/echo: %v\n%s", err, out)
		return 1
	}
	bin, err := os.ReadFile(filepath.Join(bundleOne, "bootstrap"))
	if err == nil {
		err = os.MkdirAll(bundleTwo, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(bundleTwo, "bootstrap"), bin, 0o755)
	}
	for _, b := range []struct{ dir, tag string }{{bundleOne, "one"}, {bundleTwo, "two"}} {
		if err == nil {
			err = os.WriteFile(filepath.Join(b.dir, "tag.txt"), []byte(b.tag+"\n"), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Outside /tmp, which each environment's private /tmp hides.
	base := "/var/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = ""
	}
	if envDir, err = os.MkdirTemp(base, "stoa-worker-envs-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(envDir)
	return m.Run()
}

// functionProcs counts the live processes running as function name: an
// environment's runtime has AWS_LAMBDA_FUNCTION_NAME=name in its
// environment. Reading another uid's environ needs root; without it the
// count is 0 and the check proves nothing (the tests say so).
func functionProcs(name string) int {
	want := []byte("AWS_LAMBDA_FUNCTION_NAME=" + name + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*/environ")
	n := 0
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && strings.Contains(string(b), string(want)) {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds or d passes. It is for conditions
// with no event to wait on (a process gone, goroutines ended).
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// checkLeaks fails t if, at its end, goroutines are left over from what it
// started (after everything it registered for cleanup has run). The
// lambda package's spare sandbox (a prepared thread kept for the next cold
// start, torn down after a minute unused) is process-wide, not the test's,
// and is not counted.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		if !waitUntil(10*time.Second, func() bool { return goroutines() <= before }) {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines after the test, %d before\n%s", goroutines(), before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// goroutines counts the goroutines, except the lambda package's spare sandbox.
func goroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "fn/runtime/lambda.refillSpare") && !strings.Contains(g, "fn/runtime/lambda.(*sandboxThread)") {
			n++
		}
	}
	return n
}

var _ = context.Background
