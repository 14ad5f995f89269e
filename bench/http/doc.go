// Package httpbench compares acts over HTTP, in one run on one machine:
// a Stoa client calling a Stoa listener (stoahttp), a Seneca client
// calling a Seneca listener (the peer), and two plain Go baselines that
// post JSON to an echo handler: one on net/http, one on fasthttp.
//
// Every side sends {role:'math',cmd:'sum',left:1,right:2} and checks every
// reply, {"answer":3} (the Go sides compare the reply's bytes, the Seneca
// client its answer field), first one act at a time (sequential: latency
// p50 and p99, and throughput with 1 act in flight), then with 32 acts in
// flight (throughput). Stoa's client and listener share this process, as
// each Go baseline's client and server do; Seneca's listener and client are
// two Node processes (testdata/npm/http-bench.js), as deployed, with
// Seneca's default transport (a connection per act).
//
// The baselines do the least a hand-written service would: decode the body
// into a map and encode the sum; no routing, no metadata headers, no
// metrics, no checks. Stoa does all of that, and routes through two
// engines (the caller's and the listener's). The net/http echo is the
// baseline issue 4 names. The fasthttp echo is the floor of the stack
// stoahttp runs on, so stoa/fasthttp is what Stoa's own work costs: since
// 20× Seneca is more than the net/http echo reaches on the bench machine,
// no transport on net/http could meet that goal (stoahttp/RATIONALE.md).
//
// [Run] alternates the sides for five rounds of 2 s each (about 100 s in
// all), so that all meet the same noise of a shared machine, and reports
// medians. Issue 4's goals: Stoa at
// least 0.7× net/http's throughput at 32 in flight ([GoalNetHTTP]) and at
// least 20× Seneca's ([GoalSeneca]). On a loaded machine the ratios move
// from run to run; compare ratios from the same run, over a few runs.
//
// # Running it
//
// TestCompare is the runner: a smoke test by default, a measurement with
// -compare=full (or quick), which prints compare: lines for
// bench/cmd/benchtable, a table, and (with -v) every round:
//
//	go test ./bench/http -run '^TestCompare$' -count=1 -v -args -compare=full
//
// BenchmarkHTTP/{stoa,nethttp,fasthttp}/{seq,par} measure the Go sides
// alone with the testing package.
package httpbench
