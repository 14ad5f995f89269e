// Package gatewaybench measures the gateway's act route beside the floor
// of any Go HTTP service: a plain net/http handler that returns the same
// body.
//
// Every side answers GET /hello/Ada with {"message":"Hello, Ada"}, and the
// client checks every reply:
//
//   - nethttp (the floor): an http.ServeMux handler that reads the path
//     parameter and encodes the reply;
//   - gateway/local: the gateway, its route GET /hello/{name} acting
//     role:hello,cmd:sayHello on its own engine (no network hop behind the
//     gateway);
//   - gateway/mesh: the same route, the pattern served by another engine
//     reached over the mesh (NATS, an embedded server in this process), as
//     a gateway in front of services runs.
//
// The client is one http.Client with keep-alive connections; 32 requests
// are in flight for a few seconds per run (bench/http's Load), after a
// warm-up. The sides take turns for three rounds, so that noise on the
// shared machine hits all of them, and the table keeps the median run of
// each. Issue 7's goal: the act route at least half the floor's throughput
// ([Goal]).
//
// # Running it
//
// TestCompare is the runner: a smoke test by default, a measurement with
// -compare=full (or quick), which prints compare: lines for
// bench/cmd/benchtable and a table:
//
//	go test ./bench/gateway -run '^TestCompare$' -count=1 -v -args -compare=full
package gatewaybench
