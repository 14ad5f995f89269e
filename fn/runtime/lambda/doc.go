// Package lambda runs AWS Lambda functions as local processes: each
// execution environment is one OS process speaking the Lambda Runtime API
// (/2018-06-01/runtime/...) to its own loopback endpoint, so unmodified
// aws-lambda-go binaries, custom-runtime bootstrap executables and Node.js
// handlers run as they do on Lambda.
//
// # Environments
//
// [Start] creates an environment from a [Config] and waits for the runtime
// to finish its init; [Env.Invoke] runs one invocation at a time and returns
// its [Result]; [Env.Close] removes the environment. A pool of warm
// environments, concurrency and idle reaping belong to the caller
// (fn/worker).
//
//	env, err := lambda.Start(ctx, lambda.Config{Bundle: dir, MemoryMB: 128, Log: os.Stderr})
//	if err != nil { ... } // an init failure is an *Error matching ErrInitFailed
//	defer env.Close()
//	res, err := env.Invoke(ctx, []byte(`{"hello":"world"}`), lambda.InvokeOpts{})
//
// As root, an environment starts in a sandbox (cgroups, a mount namespace
// with its own /tmp) prepared ahead of need; one is kept ready per Dir and
// TmpMB while an environment of those is open, and [HoldSpare] keeps one
// ready while none is, as a worker does so that a start from zero finds it.
//
// # Limits
//
// Every environment gets Lambda's limits: a timeout per invocation, a
// memory size, 1,024 file descriptors, 1,024 processes and threads, a
// private /tmp of a fixed size, and request and response payload caps
// (6 MB by default). Breaking one gives an *Error with a stable code
// ([ErrTimeout], [ErrOutOfMemory], [ErrExited], [ErrResponseTooLarge],
// [ErrRequestTooLarge]); an environment that timed out, crashed or ran out
// of memory is discarded, and [Env.Err] says why. As root each environment
// also runs as its own uid, with its code where only it can read it (bound
// read-only where it lies when no other uid can reach it there, else
// copied into a directory only that uid can read) and a clean environment. Without root, functions still run and
// [HostLimits] says which limits are not enforced. RATIONALE.md explains the
// mechanisms.
//
// # Logs
//
// The runtime's stdout and stderr go to Config.Log line by line, framed by
// Lambda's START, END and REPORT lines (duration, billed duration, memory
// size, max memory used, init duration on a cold start).
package lambda
