package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

// runners are the comparison runners, one line each: the package, relative
// to the module root, whose TestCompare prints compare: lines (bench/doc.go).
// An entry whose package does not exist yet, or has no TestCompare, is
// skipped with a note.
var runners = []string{
	"bench/inproc",
	"bench/http",
	"bench/mesh",
	"bench/gateway",
	"bench/fn",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, ".", os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// options are benchtable's flags.
type options struct {
	bench     string
	count     int
	benchtime string
	short     bool
}

// run measures the module around dir: the table goes to stdout, go test's
// own output and progress to stderr. It returns an error when a benchmark
// or a comparison failed, after printing what it has.
func run(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench/cmd/benchtable [-bench regexp] [-count n] [-benchtime d] [-short]")
		fs.PrintDefaults()
	}
	var o options
	fs.StringVar(&o.bench, "bench", ".", "run only the benchmarks and comparisons matching `regexp`, as go test -bench")
	fs.IntVar(&o.count, "count", 1, "run each benchmark `n` times; the table shows medians")
	fs.StringVar(&o.benchtime, "benchtime", "", "time or iterations (100x) per benchmark, as go test -benchtime (default 1s; 100ms with -short)")
	fs.BoolVar(&o.short, "short", false, "quick pass: go test -short, -benchtime 100ms, comparisons with fewer acts and one round")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	re, err := regexp.Compile(o.bench)
	if err != nil {
		return fmt.Errorf("-bench: %w", err)
	}
	if o.count < 1 {
		return fmt.Errorf("-count %d: want at least 1", o.count)
	}
	if o.benchtime == "" && o.short {
		o.benchtime = "100ms"
	}

	root, modPath, err := module(ctx, dir)
	if err != nil {
		return err
	}
	t := table{modPath: modPath, opts: o, loadStart: loadavg()}

	fmt.Fprintln(stderr, "benchtable: listing benchmarks and comparison runners (go test -list)")
	listed, err := list(ctx, root)
	if err != nil {
		return err
	}
	var benchPkgs []string
	for pkg, names := range listed {
		if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "Benchmark") }) {
			benchPkgs = append(benchPkgs, pkg)
		}
	}
	slices.Sort(benchPkgs)

	var failed []string
	if len(benchPkgs) > 0 {
		fmt.Fprintf(stderr, "benchtable: go test -bench %s in %d packages\n", o.bench, len(benchPkgs))
		out, err := benchmark(ctx, root, o, benchPkgs, stderr)
		t.bench = out
		if err != nil {
			failed = append(failed, "benchmarks: "+err.Error())
		}
	}

	for _, rel := range runners {
		name := path.Base(rel)
		if !re.MatchString(name) {
			continue
		}
		row := runnerRow{name: name, pkg: rel}
		names, ok := listed[modPath+"/"+rel]
		switch {
		case !ok:
			row.note = "skipped: no package " + rel + " yet"
		case !slices.Contains(names, "TestCompare"):
			row.note = "skipped: " + rel + " has no TestCompare yet"
		default:
			fmt.Fprintf(stderr, "benchtable: comparison %s (go test ./%s -run TestCompare)\n", name, rel)
			row.results, err = runCompare(ctx, root, rel, o.short, stderr)
			if err != nil {
				row.note = "failed; its output is above"
				failed = append(failed, name+": "+err.Error())
			} else if len(row.results) == 0 {
				row.note = "failed: printed no " + strings.TrimSpace(compare.Prefix) + " line"
				failed = append(failed, name+": no result")
			}
		}
		t.runners = append(t.runners, row)
	}

	t.loadEnd = loadavg()
	if err := t.write(stdout); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// module returns the root directory and the path of the module around dir.
func module(ctx context.Context, dir string) (root, modPath string, err error) {
	out, err := goCmd(ctx, dir, nil, "list", "-m", "-f", "{{.Dir}}\t{{.Path}}")
	if err != nil {
		return "", "", err
	}
	root, modPath, ok := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if !ok || root == "" {
		return "", "", fmt.Errorf("go list -m printed %q; run benchtable inside the module", out)
	}
	return root, modPath, nil
}

// list returns, by import path, the benchmarks and TestCompare functions of
// every package of the module.
func list(ctx context.Context, root string) (map[string][]string, error) {
	out, err := goCmd(ctx, root, nil, "test", "-vet=off", "-list", "^(Benchmark.*|TestCompare)$", "./...")
	if err != nil {
		return nil, err
	}
	return parseList(bytes.NewReader(out))
}

// benchmark runs the benchmarks of pkgs, echoing go test's output to
// stderr as it comes, and parses it.
func benchmark(ctx context.Context, root string, o options, pkgs []string, stderr io.Writer) (benchOutput, error) {
	args := []string{"test", "-vet=off", "-run", "^$", "-bench", o.bench, "-benchmem",
		"-count", fmt.Sprint(o.count), "-timeout", "2h"}
	if o.benchtime != "" {
		args = append(args, "-benchtime", o.benchtime)
	}
	if o.short {
		args = append(args, "-short")
	}
	out, err := goCmd(ctx, root, stderr, append(args, pkgs...)...)
	res, perr := parseBench(bytes.NewReader(out))
	return res, errors.Join(err, perr)
}

// runCompare runs the TestCompare of the runner package rel and returns the
// comparisons it printed.
func runCompare(ctx context.Context, root, rel string, short bool, stderr io.Writer) ([]compare.Line, error) {
	mode := "full"
	if short {
		mode = "quick"
	}
	out, err := goCmd(ctx, root, stderr, "test", "-vet=off", "-count=1", "-v", "-timeout", "2h",
		"-run", "^TestCompare$", "./"+rel, "-args", "-compare="+mode)
	if err != nil {
		return nil, err
	}
	return compare.Read(bytes.NewReader(out))
}

// goCmd runs the go command in dir and returns its stdout. When echo is
// not nil, stdout is copied to it as it comes; stderr always goes to echo
// (or into the error when echo is nil).
func goCmd(ctx context.Context, dir string, echo io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if echo != nil {
		cmd.Stdout = io.MultiWriter(&out, echo)
		cmd.Stderr = echo
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("go %s: %w%s", strings.Join(args, " "), err, indent(errb.String()))
	}
	return out.Bytes(), nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "\n\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

// loadavg returns the 1-minute load average, or "" where /proc/loadavg is
// missing. A shared machine's load explains noisy numbers.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
