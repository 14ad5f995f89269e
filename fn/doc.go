// Package fn is the function registry: named functions, their immutable
// numbered versions and their aliases, kept in NATS JetStream (a key-value
// bucket for configuration, an object store for code), so that every worker
// and gateway of a mesh sees the same functions and a restart loses none.
//
// # Functions, versions and aliases
//
// A function is a name plus, for each version, a [Config] and a code
// [Bundle]. [Registry.Create] stores version 1; each [Registry.Update] stores
// the next number and moves the alias "latest" to it. Versions never change
// once stored. Named aliases ([Registry.SetAlias]) point at any version;
// invokers name a function with a qualifier: a version number, an alias, or
// nothing for latest ([Registry.Resolve]).
//
// # Bundles
//
// Code comes as a directory or a zip ([DirBundle], [ZipBundle]). Runtimes:
// "provided" (an executable bootstrap at the root: Lambda's custom-runtime
// convention, how unmodified aws-lambda-go binaries deploy), "go" (a Go main
// package, built into a provided bootstrap when the version is stored) and
// "node" (a file.export handler run by Stoa's Node bootstrap). A bundle is
// checked before anything is stored: a missing bootstrap or handler, an
// unknown runtime, a bad name, a zip entry escaping its directory or an
// oversized bundle is refused with an [*Error], and the registry is left as
// it was.
package fn
