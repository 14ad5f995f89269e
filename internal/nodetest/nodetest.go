// Package nodetest runs the pinned Node peers (real Seneca, and later
// claudia-api-builder) that Stoa's tests compare against. The packages are
// installed by `make deps` into testdata/npm at the root of the module.
package nodetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
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
