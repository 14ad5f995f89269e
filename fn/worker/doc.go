// Package worker serves the functions of a registry ([fn.Registry]) on the
// mesh: a [Worker] answers the act fn:NAME by running the function in a
// Lambda execution environment ([lambda.Env]) on this machine. Any Stoa
// service calls a function like any other pattern; `stoa up` and `stoa
// worker` run one.
//
// # The act
//
// The message names the function, optionally a qualifier, and the event:
//
//	{"fn": "hello", "qualifier": "prod", "payload": {"name": "Ada"}}
//
// The qualifier is "" or "latest" (the newest version), a version number
// (a string or a number) or an alias; the payload reaches the function
// unchanged ({} when there is none). The reply carries the version that
// ran and the function's response:
//
//	{"version": 3, "requestId": "…", "payload": {"message": "Hello Ada"}}
//
// See [Request] and [Reply]. A function that fails answers with a
// *stoa.Error instead: CodeFunctionError when it returned an error, or the
// code of what broke (lambda.CodeTimeout, lambda.CodeExited, …), with
// Lambda's error body in Details["payload"]; an unknown function, version
// or alias gets the registry's code (fn.CodeNotFound, …).
//
//	out, err := e.Act(ctx, stoa.Msg{"fn": "hello", "payload": map[string]any{"name": "Ada"}})
//
// # Environments
//
// Each function version has a pool of environments on each worker. An
// invocation takes a warm one if there is one (a warm start), else starts
// one (a cold start) while the pool is under the version's Concurrency,
// else waits for the first to come free, failing with CodeThrottled if its
// deadline comes first. An environment runs one invocation at a time and
// is reused while warm; one idle for the worker's IdleTimeout is closed,
// so a function nobody calls holds nothing (scale to zero). An
// environment that crashed, timed out or ran out of memory is discarded,
// never reused; the next invocation gets another. [Worker.Stats] counts
// cold and warm starts per version.
//
// # Updates
//
// The qualifier is resolved when each invocation starts (from an
// fn.Cache, which reads the registry again whenever a write may have moved
// the function), so every invocation that starts after an update has been
// stored runs the new version, while those in flight finish on the version
// they began on.
// The worker also watches the registry: when latest or an alias moves, it
// starts as many environments of the new target as the old one had live
// (pre-warming), and retires the versions that neither latest nor an
// alias points at any more, closing their environments as they go idle.
// An update therefore never fails an invocation.
//
// # Sharing the load
//
// Every worker serves the pin fn:* in one NATS queue group, so workers on
// one mesh share the acts and a worker that leaves ([Worker.Shutdown])
// hands its share to the others without an error.
//
// # Logs
//
// Each invocation's output, framed by Lambda's START, END and REPORT
// lines, is published as one message to the JetStream stream [LogStream]
// (subject stoa.fn.logs.NAME.VERSION), which keeps logs up to an age and a
// size. [ReadLogs] reads them, and follows new ones.
//
// RATIONALE.md explains the choices.
package worker
