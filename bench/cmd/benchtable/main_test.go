package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeModule writes a small module: a package with a benchmark, one
// without, and a comparison runner at bench/inproc that prints the mode
// benchtable asked for. bench/http does not exist.
func fakeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/fake\n\ngo 1.26\n",
		"fast/fast_test.go": `package fast

import "testing"

func BenchmarkFast(b *testing.B) {
	for b.Loop() {
	}
	b.ReportMetric(7, "widgets/op")
}
`,
		"plain/plain.go": "// Package plain has no benchmarks.\npackage plain\n",
		"bench/inproc/inproc_test.go": `package inproc

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

var compare = flag.String("compare", "", "")

func TestCompare(t *testing.T) {
	if os.Getenv("FAKE_COMPARE_FAILS") != "" {
		t.Fatal("the comparison failed")
	}
	peer := map[string]int{"full": 1000, "quick": 10}[*compare]
	if peer == 0 {
		t.Fatalf("-compare=%q", *compare)
	}
	fmt.Printf("compare: {\"name\":\"inproc\",\"what\":\"mode %s\",\"unit\":\"acts/s\",\"peer\":\"seneca 3.38.0\",\"peer_value\":%d,\"stoa_value\":200000,\"ratio\":%d,\"goal\":100}\n", *compare, peer, 200000/peer)
}
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRun runs benchtable on a fake module, end to end through go test.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping go test runs in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	dir := fakeModule(t)
	for _, tc := range []struct {
		args []string
		want []string // lines, each in the output
		not  []string // substrings, none in the output
	}{
		{
			args: []string{"-benchtime", "10x"},
			want: []string{
				"fake benchmarks: ",
				"fast     BenchmarkFast",
				"inproc      seneca 3.38.0",
				"http        skipped: no package bench/http yet",
			},
			not: []string{"Benchmark-", "plain", "mode quick"},
		},
		{
			args: []string{"-short"},
			want: []string{"-count 1 -benchtime 100ms, -short", "mode quick"},
			not:  []string{"mode full"},
		},
		{
			args: []string{"-bench", "Fast", "-count", "2", "-benchtime", "5x"},
			want: []string{"values are medians of 2 runs; ±ns/op is (max-min)/median"},
			not:  []string{"inproc", "http"},
		},
		{
			args: []string{"-bench", "inproc"},
			want: []string{"no benchmarks matched -bench inproc"},
			not:  []string{"http"},
		},
	} {
		var stdout, stderr strings.Builder
		if err := run(t.Context(), dir, tc.args, &stdout, &stderr); err != nil {
			t.Errorf("run(%q): %v\nstderr:\n%s", tc.args, err, stderr.String())
			continue
		}
		out := stdout.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("run(%q): output lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("run(%q): output has %q:\n%s", tc.args, n, out)
			}
		}
	}
}

// TestRunReportsFailure checks that a failed comparison fails the run but
// still prints the table.
func TestRunReportsFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping go test runs in -short mode")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	dir := fakeModule(t)
	t.Setenv("FAKE_COMPARE_FAILS", "1")
	var stdout, stderr strings.Builder
	err := run(t.Context(), dir, []string{"-benchtime", "10x"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "inproc: ") {
		t.Errorf("run with a failing comparison: error %v, want one naming inproc", err)
	}
	for _, want := range []string{"fast     BenchmarkFast", "inproc      failed; its output is above"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run with a failing comparison: output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "the comparison failed") {
		t.Errorf("run with a failing comparison: stderr lacks the runner's output:\n%s", stderr.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-bench", "("},
		{"-count", "0"},
		{"-nosuchflag"},
		{"extra"},
	} {
		var stdout, stderr strings.Builder
		if err := run(t.Context(), t.TempDir(), args, &stdout, &stderr); err == nil {
			t.Errorf("run(%q): got no error", args)
		}
		if stdout.Len() > 0 {
			t.Errorf("run(%q) printed %q on stdout, want nothing", args, stdout.String())
		}
	}
}
