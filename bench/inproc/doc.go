// Package inprocbench compares Stoa's in-process act throughput with
// Seneca's: the same loop, in one run, on the same machine.
//
// Both sides add the 2-key pattern role:math,cmd:sum, whose handler replies
// {"answer": left + right}, and then act {role:'math',cmd:'sum',left:1,right:2}
// one act after another, each act sent only once the previous reply is in.
// Every reply is checked. Each side builds its message afresh for every act,
// as a caller does, and a warm-up runs before the timed acts.
//
//   - Seneca: real Seneca, the npm package pinned in testdata/npm, through
//     the script testdata/npm/bench-inproc.js (callback style). Node's start
//     and Seneca's are not timed; the script times its own loop.
//   - Stoa: [stoa.Engine.Act] in this process, on a new engine.
//
// [Run] alternates the two sides for a few rounds, so that both meet the
// same noise of a shared machine, and reports the median acts per second of
// each and their ratio. Issue 3 asks for a ratio of at least [Goal].
//
// # Running it
//
// The test TestCompare is the runner. Without flags it is a smoke test with
// a few acts per side; with -compare=full (or quick) it measures:
//
//	go test ./bench/inproc -run '^TestCompare$' -count=1 -v -args -compare=full
//
// It prints one line for bench/cmd/benchtable, which runs it as part of
// `make bench`:
//
//	compare: {"name":"inproc","unit":"acts/s",...,"ratio":34.7,"goal":100}
//
// bench/README.md says how to read the numbers.
package inprocbench
