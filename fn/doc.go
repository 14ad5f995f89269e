// Package fn is the function registry: named functions, their immutable
// numbered versions and their aliases, kept in NATS JetStream (a key-value
// bucket for configuration, an object store for code), so that every worker
// and gateway of a mesh sees the same functions and a restart loses none.
//
//	reg, err := fn.Open(ctx, js) // js: a jetstream.JetStream; fn.WithReplicas(3) on a cluster
//	v, err := reg.Create(ctx, "hello", fn.Config{Runtime: fn.RuntimeNode, Handler: "app.handler"}, fn.DirBundle("./app"))
//	v, err = reg.Update(ctx, "hello", nil, fn.DirBundle("./app")) // new code, same config: version 2
//	err = reg.SetAlias(ctx, "hello", "prod", 1)
//	v, err = reg.Resolve(ctx, "hello", "prod") // version 1
//	err = reg.Code(ctx, v, dir)                 // unpack its code to run it
//
// # Functions, versions and aliases
//
// A function is a name plus, for each version, a [Config] and a code
// [Bundle]. [Registry.Create] stores version 1; each [Registry.Update] stores
// the next number and moves the alias "latest" to it. Versions never change
// once stored; a stored version has every default of its Config filled in.
// Named aliases ([Registry.SetAlias]) point at any version;
// invokers name a function with a qualifier: a version number, an alias, or
// nothing for latest ([Registry.Resolve]; [Cache] answers it from memory,
// seeing every change a caller could have waited for). Concurrent changes, from any
// number of processes, never lose a version or give one number twice.
// [Registry.Delete] removes the function with its versions, aliases and
// code; the name may then be created again, from version 1.
//
// # Bundles
//
// Code comes as a directory or a zip ([DirBundle], [ZipBundle], [ZipBytes]).
// Runtimes:
// "provided" (an executable bootstrap at the root: Lambda's custom-runtime
// convention, how unmodified aws-lambda-go binaries deploy), "go" (a Go main
// package, built into a provided bootstrap when the version is stored) and
// "node" (a file.export handler run by Stoa's Node bootstrap). A bundle is
// checked before anything is stored: a missing bootstrap or handler, an
// unknown runtime, a bad name, a zip entry escaping its directory or an
// oversized bundle is refused with an [*Error], and the registry is left as
// it was.
//
// What is stored is a normalised zip (sorted entries, fixed times, modes
// 0755 or 0644), so the same files give the same bytes and the same
// [Version.CodeSHA]. Sizes are counted on the bytes read, never taken from
// zip headers: a zip bomb is cut off at [MaxCodeBytes]. [Registry.Code]
// checks the stored zip against its SHA-256 before it unpacks it, under
// the same checks.
//
// # Watching
//
// [Registry.Watch] streams [Event]s: the functions as they are, then every
// change (created, updated, alias moved, deleted) in commit order. After a
// reconnect it resumes where it stopped; changes made meanwhile arrive,
// possibly merged into one event per function.
//
// # Errors
//
// Every refusal is an [*Error] with a stable Code; match it with
// errors.Is against the sentinels ([ErrNotFound], [ErrInvalidBundle], …),
// which compare codes, so that an error decoded from JSON matches too.
// Failures of NATS itself are returned wrapped, as they are.
//
// # Storage
//
// Two buckets, created by [Open] if they do not exist: [ConfigBucket] (a
// key-value bucket keeping 16 revisions per key) and [CodeBucket] (an
// object store). RATIONALE.md describes their keys and why.
package fn
