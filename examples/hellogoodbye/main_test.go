package main

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelloGoodbye builds the example, runs it as a real process on free
// ports, checks the three replies it prints and curl's answer from the
// hello service, then stops it with SIGINT.
func TestHelloGoodbye(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the build and run of the example in -short mode")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is not on PATH; install it (apt-get install -y curl)")
	}
	bin := filepath.Join(t.TempDir(), "hellogoodbye")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-hello", "127.0.0.1:0", "-goodbye", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	outLines, errLines := lines(stdout), lines(stderr)
	var log []string
	next := func(ch <-chan string, what string) string {
		t.Helper()
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("the example ended before %s; stderr so far:\n%s", what, strings.Join(log, "\n"))
			}
			return l
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s after 30 s; stderr so far:\n%s", what, strings.Join(log, "\n"))
		}
		return ""
	}

	for _, want := range []string{`{"message":"Hello!"}`, `{"message":"Goodbye"}`, `{"message":"Goodbye!!"}`} {
		if got := next(outLines, "reply "+want); got != want {
			t.Errorf("printed %s, want %s", got, want)
		}
	}
	helloURL := ""
	listening := regexp.MustCompile(`^hello listening on \S+ \((http://\S+)\)$`)
	for {
		l := next(errLines, `"serving until stopped"`)
		log = append(log, l)
		if m := listening.FindStringSubmatch(l); m != nil {
			helloURL = m[1]
		}
		if l == "serving until stopped" {
			break
		}
	}
	if helloURL == "" {
		t.Fatalf("the example did not say where hello listens:\n%s", strings.Join(log, "\n"))
	}

	// The chapter's curl.
	out, err := exec.CommandContext(t.Context(), curl, "-s", "-S", "-d", `{"cmd":"sayHello","role":"hello"}`, helloURL).Output()
	if err != nil || string(out) != `{"message":"Hello!"}` {
		t.Errorf("curl: %q, %v; want {\"message\":\"Hello!\"}", out, err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range errLines { // read both pipes to their end before Wait
	}
	for range outLines {
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("after SIGINT the example exited with %v, want 0", err)
	}
}

// lines sends each line r reads until it ends.
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		s := bufio.NewScanner(r)
		for s.Scan() {
			ch <- s.Text()
		}
	}()
	return ch
}
