// Package httpbench compares acts over HTTP, in one run on one machine:
// a Stoa client calling a Stoa listener (stoahttp), plain net/http
// posting JSON to an echo handler (the floor: what any Go HTTP service
// pays), and a Seneca client calling a Seneca listener (the peer).
//
// Every side acts {role:'math',cmd:'sum',left:1,right:2} and checks the
// reply {"answer":3}, first one act at a time (sequential: latency p50 and
// p99, and throughput with 1 act in flight), then with 32 acts in flight
// (throughput). Stoa's client and listener share this process, as the
// net/http pair does; Seneca's listener and client are two Node processes
// (testdata/npm/http-bench.js), as deployed.
//
// [Run] alternates the sides for a few rounds, so that all meet the same
// noise of a shared machine, and reports medians. Issue 4's goals: Stoa at
// least 0.7× net/http's throughput at 32 in flight ([GoalNetHTTP]) and at
// least 20× Seneca's ([GoalSeneca]).
//
// # Running it
//
// TestCompare is the runner: a smoke test by default, a measurement with
// -compare=full (or quick), which prints compare: lines for
// bench/cmd/benchtable and a table:
//
//	go test ./bench/http -run '^TestCompare$' -count=1 -v -args -compare=full
//
// BenchmarkHTTP/{stoa,nethttp}/{seq,par} measure the Go sides alone with
// the testing package.
package httpbench
