// Package gatewaybench measures the gateway beside the floor of any Go
// HTTP service, a plain net/http handler returning the same body, and its
// function routes beside claudia-local-api, in one run.
//
// The sides, each answering a GET whose reply the client checks:
//
//   - nethttp (the floor): an http.ServeMux handler reading the path
//     parameter and encoding {"message":"Hello, Ada"};
//   - gateway/local: the gateway's act route GET /hello/{name} acting
//     role:hello,cmd:sayHello on its own engine;
//   - gateway/mesh: the same route, the pattern served by another engine
//     reached over the mesh (an embedded NATS server in this process);
//   - gateway/function: a function route to a warm aws-lambda-go function
//     (testdata/hello, the provided runtime, run by fn/worker), which reads
//     the event with aws-lambda-go's APIGatewayProxyRequest and answers the
//     floor's body;
//   - nethttp+stub: the floor's handler invoking the same function binary
//     under internal/lambdastub, the least Runtime API that serves it (no
//     gateway, mesh, worker or sandbox; one environment, so requests take
//     turns): what the function's own client costs here, the least a
//     function route can take;
//   - gateway/claudia: the chapter's claudia-api-builder app
//     (gateway/test/testdata/claudia) on the Node runtime, GET /hello;
//   - claudia-local-api: the same app served by claudia-local-api 3.0.5
//     (pinned in testdata/local-api), Express in one Node process. (AWS's
//     Runtime Interface Emulator cannot run it: the Node runtime client
//     that fits the emulator refuses claudia's callback handler, LAMBDA.md.)
//
// Everything runs in this process but Node: NATS with JetStream, the
// function registry, one worker, the gateways. Each side runs one request
// at a time (latency p50, p99) and with [InFlight] in flight (throughput)
// for a few seconds, after a warm-up; the sides take turns for three
// rounds, and the table keeps the median run of each. Then the cold
// starts through the gateway: the worker's idle environments are closed
// and one request timed, ten times per function.
//
// Issue 7's goals: the act route at least half the floor's throughput
// ([Goal]); a warm function route's p50 within [FunctionGoal] µs of the
// floor's.
//
// # Running it
//
// TestCompare is the runner: a smoke test by default, a measurement with
// -compare=full (or quick), which prints compare: lines for
// bench/cmd/benchtable and a table:
//
//	go test ./bench/gateway -run '^TestCompare$' -count=1 -v -args -compare=full
//
// The Node sides need Node 20 and npm (their packages are installed with
// npm ci on first use); without Node they are left out.
package gatewaybench
