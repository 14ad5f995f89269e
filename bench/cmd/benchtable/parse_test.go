package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stoaproject/stoa/bench/internal/compare"
)

func parseFile(t *testing.T, name string) benchOutput {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := parseBench(f)
	if err != nil {
		t.Fatalf("parseBench(%s): %v", name, err)
	}
	return out
}

// summary prints a result in one line, for comparing with a want table.
func summary(r result) string {
	var m []string
	for _, v := range r.metrics {
		m = append(m, fmt.Sprintf("%g %s", v.v, v.unit))
	}
	return fmt.Sprintf("%s %s procs=%d n=%d: %s", r.pkg, r.name, r.procs, r.iters, strings.Join(m, ", "))
}

func TestParseBench(t *testing.T) {
	for _, tc := range []struct {
		file   string
		config map[string]string
		want   []string
	}{
		{
			file:   "stoa-count2.txt",
			config: map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "AMD EPYC"},
			want: []string{
				"github.com/stoaproject/stoa BenchmarkAct procs=2 n=63798: 1629 ns/op, 224 B/op, 2 allocs/op",
				"github.com/stoaproject/stoa BenchmarkAct procs=2 n=115077: 1122 ns/op, 224 B/op, 2 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=10 procs=2 n=132546: 1091 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=10 procs=2 n=120580: 1177 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=1000 procs=2 n=110904: 1223 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=1000 procs=2 n=122436: 1126 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=100000 procs=2 n=106888: 1419 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkActPatterns/patterns=100000 procs=2 n=129921: 1529 ns/op, 248 B/op, 3 allocs/op",
				"github.com/stoaproject/stoa BenchmarkFind procs=2 n=2455149: 48.18 ns/op, 0 B/op, 0 allocs/op",
				"github.com/stoaproject/stoa BenchmarkFind procs=2 n=2223320: 55.51 ns/op, 0 B/op, 0 allocs/op",
			},
		},
		{
			// Several packages, a custom metric, a log, a line split by a
			// benchmark that prints, a failed benchmark, go test -cpu 1,2.
			file:   "mixed.txt",
			config: map[string]string{"goos": "linux", "goarch": "amd64", "cpu": "AMD EPYC"},
			want: []string{
				"example.com/fake/a BenchmarkMetric procs=2 n=10: 15 ns/op, 12346 acts/s, 0 B/op, 0 allocs/op",
				"example.com/fake/a BenchmarkLogs procs=2 n=10: 16.1 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/a BenchmarkPrints procs=2 n=10: 2067 ns/op, 26 B/op, 0 allocs/op",
				"example.com/fake/a BenchmarkSize/size-1 procs=2 n=10: 28.1 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/a BenchmarkSize/size-10 procs=2 n=10: 18 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/b BenchmarkB procs=2 n=10: 14 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/c BenchmarkC procs=2 n=10: 19 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/b BenchmarkB procs=1 n=10: 16 ns/op, 0 B/op, 0 allocs/op",
				"example.com/fake/b BenchmarkB procs=2 n=10: 17 ns/op, 0 B/op, 0 allocs/op",
			},
		},
	} {
		out := parseFile(t, tc.file)
		var got []string
		for _, r := range out.results {
			got = append(got, summary(r))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseBench(%s):\ngot  %s\nwant %s", tc.file, strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
		}
		for k, want := range tc.config {
			if got := out.config[k]; got != want {
				t.Errorf("parseBench(%s): config %s = %q, want %q", tc.file, k, got, want)
			}
		}
	}
}

func TestParseResultRejects(t *testing.T) {
	for _, line := range []string{
		"BenchmarkAct-2",                           // name alone (go test -v)
		"BenchmarkAct-2 \tprinted while running",   // name, then a print
		"BenchmarkAct-2 10",                        // no metric
		"BenchmarkAct-2 10 1.5",                    // a value without its unit
		"BenchmarkAct-2 ten 1.5 ns/op",             // iterations not a number
		"BenchmarkAct-2 10 fast ns/op",             // value not a number
		"BenchmarkAct-2 10 1.5 ns/op 224 B/op 2",   // odd pairs
		"BenchmarkAct-2 10 1.5 ns/op extra fields", // value not a number
	} {
		if r, ok := parseResult("p", strings.Fields(line)); ok {
			t.Errorf("parseResult(%q) = %s, want no result", line, summary(r))
		}
	}
}

func TestParseList(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "list-stoa.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseList(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"github.com/stoaproject/stoa":                      {"BenchmarkAct", "BenchmarkActPatterns", "BenchmarkFind"},
		"github.com/stoaproject/stoa/bench/cmd/benchtable": nil,
		"github.com/stoaproject/stoa/bench/inproc":         {"TestCompare"},
		"github.com/stoaproject/stoa/cmd/stoa":             nil,
		"github.com/stoaproject/stoa/internal/cli":         nil,
		"github.com/stoaproject/stoa/internal/demo":        nil,
		"github.com/stoaproject/stoa/internal/nodetest":    nil,
		"github.com/stoaproject/stoa/internal/pkgdoc":      nil,
		"github.com/stoaproject/stoa/stoatest":             nil,
	}
	if len(got) != len(want) {
		t.Errorf("parseList: got %d packages %v, want %d", len(got), got, len(want))
	}
	for pkg, names := range want {
		g, ok := got[pkg]
		if !ok || !slices.Equal(g, names) {
			t.Errorf("parseList: %s = %q (listed %v), want %q", pkg, g, ok, names)
		}
	}
}

func TestParseCompare(t *testing.T) {
	out := `=== RUN   TestCompare
    inproc_test.go:84: round 1: seneca        18417 acts/s (20000 acts in 1.086 s)
compare: {"name":"inproc","what":"in-process acts","unit":"acts/s","peer":"seneca 3.38.0","peer_value":18417,"stoa_value":442107,"ratio":24,"goal":100,"rounds":1}
compare: {"name":"http/inflight=32","unit":"acts/s","peer":"seneca 3.38.0","peer_value":1294,"stoa_value":90000,"ratio":69.6}
--- PASS: TestCompare (2.37s)
PASS
`
	got, err := compare.Read(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []compare.Line{
		{Name: "inproc", What: "in-process acts", Unit: "acts/s", Peer: "seneca 3.38.0", PeerValue: 18417, StoaValue: 442107, Ratio: 24, Goal: 100, Rounds: 1},
		{Name: "http/inflight=32", Unit: "acts/s", Peer: "seneca 3.38.0", PeerValue: 1294, StoaValue: 90000, Ratio: 69.6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseCompare:\ngot  %+v\nwant %+v", got, want)
	}

	if _, err := compare.Read(strings.NewReader("compare: {not json\n")); err == nil {
		t.Error("parseCompare of a broken line: got no error")
	}
}

func TestTable(t *testing.T) {
	tb := table{
		modPath: "github.com/stoaproject/stoa",
		opts:    options{bench: ".", count: 2, benchtime: "100ms"},
		bench:   parseFile(t, "stoa-count2.txt"),
		runners: []runnerRow{
			{name: "inproc", pkg: "bench/inproc", results: []compare.Line{
				{Name: "inproc", What: "in-process acts", Unit: "acts/s", Peer: "seneca 3.38.0", PeerValue: 18417, StoaValue: 442107, Ratio: 24, Goal: 100, Rounds: 3},
			}},
			{name: "http", pkg: "bench/http", note: "skipped: no package bench/http yet"},
		},
	}
	var b strings.Builder
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := `stoa benchmarks: linux/amd64, AMD EPYC, GOMAXPROCS 2, -count 2 -benchtime 100ms
values are medians of 2 runs; ±ns/op is (max-min)/median

package  benchmark                             ns/op  B/op  allocs/op  ±ns/op  other
stoa     BenchmarkAct                          1,376   224          2     37%
stoa     BenchmarkActPatterns/patterns=10      1,134   248          3      8%
stoa     BenchmarkActPatterns/patterns=1000    1,175   248          3      8%
stoa     BenchmarkActPatterns/patterns=100000  1,474   248          3      7%
stoa     BenchmarkFind                          51.8     0          0     14%

comparison  peer             peer result     stoa result  stoa/peer  goal            what
inproc      seneca 3.38.0  18,417 acts/s  442,107 acts/s        24×  ≥ 100× not met  in-process acts (median of 3 rounds)
http        skipped: no package bench/http yet
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		f    func(float64) string
		in   float64
		want string
	}{
		{fmtInt, 0, "0"},
		{fmtInt, 999, "999"},
		{fmtInt, 1000, "1,000"},
		{fmtInt, 1234567.5, "1,234,568"},
		{fmtInt, -1234, "-1,234"},
		{fmtFloat, 1.234, "1.23"},
		{fmtFloat, 48.18, "48.2"},
		{fmtFloat, 1375.5, "1,376"},
		{fmtRatio, 24, "24×"},
		{fmtRatio, 34.56, "34.6×"},
		{fmtRatio, 1.25, "1.25×"},
		{fmtRatio, 100, "100×"},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("format(%g) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
