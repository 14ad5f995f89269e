package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// onePEnv makes the test binary run onePChild instead of its tests; its
// value is the echo bundle, and onePDirEnv's the environments' Dir.
const (
	onePEnv    = "STOA_LAMBDA_ONEP_BUNDLE"
	onePDirEnv = "STOA_LAMBDA_ONEP_DIR"
)

// onePResult is what onePChild prints.
type onePResult struct {
	MountNS bool   `json:"mountns"`
	Reply   string `json:"reply"`
	Err     string `json:"err,omitempty"`
}

// onePChild probes the host, starts the echo function and invokes it.
func onePChild() int {
	r := onePResult{MountNS: canUnshareMount()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e, err := Start(ctx, Config{Bundle: os.Getenv(onePEnv), Dir: os.Getenv(onePDirEnv)})
	if err == nil {
		var res *Result
		if res, err = e.Invoke(ctx, benchPayload, InvokeOpts{}); err == nil {
			r.Reply = string(res.Payload)
		}
		e.Close()
	}
	if err != nil {
		r.Err = err.Error()
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	return 0
}

// TestOneP runs the host probe, a start and an invocation in a process
// with one P, as on a machine or container with one CPU: each thread that
// is altered and thrown away must still get a thread of its own (they once
// recursed forever onto the main thread).
func TestOneP(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), onePEnv+"="+echoBundle, onePDirEnv+"="+testDir, "GOMAXPROCS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child with GOMAXPROCS=1: %v (%s)", err, out)
	}
	var r onePResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child printed %q: %v", out, err)
	}
	if r.MountNS != canUnshareMount() {
		t.Errorf("probe with GOMAXPROCS=1 = %v, want %v", r.MountNS, canUnshareMount())
	}
	if r.Err != "" || r.Reply != string(benchPayload) {
		t.Errorf("invoke with GOMAXPROCS=1 = %q, %s; want %s", r.Reply, r.Err, benchPayload)
	}
}
