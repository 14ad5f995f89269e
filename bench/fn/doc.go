// Package fnbench measures a function invoked through the mesh, in one
// run, beside three references:
//
//   - the floor: a plain Go handler on the same mesh, doing the same JSON
//     work (decode the request, answer its payload) with no function
//     behind it: what the mesh costs on its own;
//   - the emulator: the same aws-lambda-go echo binary under AWS's Lambda
//     Runtime Interface Emulator ([RIEModule] at [RIEVersion], built with
//     go install through the module proxy), invoked over HTTP on one
//     keep-alive connection, as LAMBDA.md's anchor numbers were taken;
//   - the stub: the same binary as a plain child process against the least
//     Runtime API that serves it (internal/lambdastub), called in process:
//     the round trip of the function's own client, which any process
//     runtime pays on this machine. Added to the floor's p50 it is the
//     least a warm invoke through the mesh can take here.
//
// Everything runs on one embedded NATS server with JetStream, as under
// stoa up: the registry holds the echo functions, a worker and the floor's
// provider reach the server in process, and the caller, an engine joined
// to the mesh, over TCP. Each round measures, per contender: [Config.Seq]
// invocations one at a time (p50, p99), then throughput for [Config.Tput]
// at 1 and at [InFlight] in flight (the emulator has one environment and
// crashes on a second concurrent invoke, so it runs at 1 only, and so
// does the stub). Then the
// cold starts: the worker's idle environments are closed ([worker.Worker.CloseIdle])
// and one invocation timed from the act to the reply, [Config.Cold] times,
// for a Go provided function and a Node function; the emulator's cold
// start is its first invoke. Every reply is checked.
//
// # Running it
//
// TestCompare is the runner. Plain go test runs it as a smoke test (a few
// invocations of each kind); -compare=quick or full measures and prints
// compare: lines for bench/cmd/benchtable:
//
//	go test ./bench/fn -run '^TestCompare$' -count=1 -v -args -compare=full
//
// The worker, the NATS server and the caller all run in the test's own
// process, so a CPU profile of it shows their side (the functions are
// processes of their own; fn/runtime/lambda's BenchmarkInvoke isolates an
// environment's share):
//
//	go test ./bench/fn -run '^TestCompare$' -count=1 -cpuprofile cpu.out -args -compare=quick
//
// Issue 6's goals: a Go cold start within [ColdGoal] µs, a warm p50
// within [WarmGoal] µs of the floor's, and warm invokes faster than under
// the emulator.
package fnbench
