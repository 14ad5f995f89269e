package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// A result is one line of Go's benchmark format
// (https://go.dev/design/14313-benchmark-data).
type result struct {
	pkg     string  // import path, from the last "pkg:" line
	name    string  // BenchmarkAct/sub, without the -GOMAXPROCS suffix
	procs   int     // that suffix; 1 when there is none
	iters   int64   // b.N
	metrics []value // in the order printed: ns/op first
}

// A value is a measurement and its unit.
type value struct {
	v    float64
	unit string
}

// metric returns the value of unit, if the result has one.
func (r result) metric(unit string) (float64, bool) {
	for _, m := range r.metrics {
		if m.unit == unit {
			return m.v, true
		}
	}
	return 0, false
}

// benchOutput is what parseBench found in go test's output.
type benchOutput struct {
	config  map[string]string // goos, goarch, cpu, … (the last seen)
	results []result
}

var (
	configLine = regexp.MustCompile(`^([a-z][^\s:]*): (.*)$`)
	procsTail  = regexp.MustCompile(`-(\d+)$`)
)

// parseBench reads `go test -bench` output. It keeps the benchmark lines and
// the configuration lines and ignores everything else (PASS, ok, logs).
// A result line whose name was printed on an earlier line, as happens when
// a benchmark writes to stdout while it runs, is joined to that name.
func parseBench(r io.Reader) (benchOutput, error) {
	out := benchOutput{config: map[string]string{}}
	pkg, pending := "", ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if m := configLine.FindStringSubmatch(line); m != nil {
			if m[1] == "pkg" {
				pkg = strings.TrimSpace(m[2])
			} else {
				out.config[m[1]] = strings.TrimSpace(m[2])
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.HasPrefix(fields[0], "Benchmark") && line[0] == 'B' {
			if res, ok := parseResult(pkg, fields); ok {
				out.results = append(out.results, res)
				pending = ""
			} else {
				pending = fields[0]
			}
			continue
		}
		if pending != "" {
			if res, ok := parseResult(pkg, append([]string{pending}, fields...)); ok {
				out.results = append(out.results, res)
				pending = ""
			}
		}
	}
	return out, sc.Err()
}

// parseResult parses the fields of a benchmark line: name, iterations, then
// value-unit pairs.
func parseResult(pkg string, f []string) (result, bool) {
	if len(f) < 4 || len(f)%2 != 0 {
		return result{}, false
	}
	res := result{pkg: pkg, name: f[0], procs: 1}
	if m := procsTail.FindStringSubmatchIndex(f[0]); m != nil {
		res.procs, _ = strconv.Atoi(f[0][m[2]:m[3]])
		res.name = f[0][:m[0]]
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return result{}, false
	}
	res.iters = n
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		res.metrics = append(res.metrics, value{v, f[i+1]})
	}
	return res, true
}

// parseList reads `go test -list REGEXP PACKAGES` output: the names each
// package listed, by import path. A package without test files, or whose
// tests failed to build, lists nothing.
func parseList(r io.Reader) (map[string][]string, error) {
	pkgs := map[string][]string{}
	var names []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1:
			names = append(names, f[0])
		case len(f) >= 2 && (f[0] == "ok" || f[0] == "?" || f[0] == "FAIL"):
			pkgs[f[1]] = append(pkgs[f[1]], names...)
			names = nil
		}
	}
	return pkgs, sc.Err()
}
