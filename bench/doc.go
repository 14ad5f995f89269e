// Package bench holds Stoa's benchmarks against its peers; it has no code
// of its own. README.md in this directory says what each comparison
// measures and how to read the ratios.
//
// # Layout
//
//   - inproc (package inprocbench): in-process act throughput, Stoa's
//     [github.com/stoaproject/stoa.Engine.Act] against real Seneca, the
//     npm package pinned in testdata/npm.
//   - cmd/benchtable: runs every Go benchmark of the module and every
//     comparison runner and prints one table. `make bench` runs it.
//
// The Go benchmarks themselves live next to the code they measure
// (BenchmarkAct, BenchmarkActPatterns and BenchmarkFind in the root
// package); benchtable finds them with go test -list.
//
// # Comparison runners
//
// A comparison runner is a package under bench/ with a test named
// TestCompare. Run plainly (go test ./...), TestCompare is a smoke test: it
// runs the comparison with a few acts and checks that both sides acted and
// replied correctly. Given -compare=full, or -compare=quick for a short
// pass, it measures and prints one line per comparison on stdout:
//
//	compare: {"name":"inproc","what":"in-process acts, role:math,cmd:sum, one at a time","unit":"acts/s","peer":"seneca 3.38.0","peer_value":18417,"stoa_value":612000,"ratio":33.2,"goal":100,"rounds":3}
//
// The fields, all but name optional:
//
//   - name: the comparison, unique in the table (a runner may print several:
//     http/inflight=1, http/inflight=32).
//   - what: what is measured, in a few words.
//   - unit: the unit of the two values (acts/s, ms).
//   - peer: the peer and its version.
//   - peer_value, stoa_value: the measurements, medians over rounds.
//   - ratio: how many times better Stoa did; above 1, Stoa is better. For a
//     throughput it is stoa_value/peer_value, for a latency
//     peer_value/stoa_value.
//   - goal: the ratio the project asks for (0: none).
//   - rounds: how many rounds each side ran.
//
// benchtable runs each runner as
//
//	go test -count=1 -v -run '^TestCompare$' ./bench/NAME -args -compare=full
//
// Adding a runner to the table is one line in the runners list of
// bench/cmd/benchtable/main.go; an entry whose package does not exist yet is
// skipped with a note.
package bench
