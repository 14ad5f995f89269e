package lambda

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probeOnlyEnv makes the test binary print canUnshareMount's answer and exit.
const probeOnlyEnv = "STOA_LAMBDA_PROBE_ONLY"

// TestProbeOneP probes the host in a process with one P, as on a machine
// or container with one CPU: the mount-namespace probe must still answer,
// and answer as it does here (it once recursed forever onto the main thread).
func TestProbeOneP(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), probeOnlyEnv+"=1", "GOMAXPROCS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe with GOMAXPROCS=1: %v (%s)", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), strconv.FormatBool(canUnshareMount()); got != want {
		t.Fatalf("probe with GOMAXPROCS=1 = %q, want %q", got, want)
	}
}
