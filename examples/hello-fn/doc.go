// Package hellofn is the chapter's function example: one hello function in
// Go (go/, an unmodified aws-lambda-go program with its own go.mod) and one
// in Node (node/app.js). Deploy and call them with a local stoa up:
//
//	stoa up &
//	stoa fn create --name hello-go --runtime go ./examples/hello-fn/go
//	stoa fn create --name hello-node --runtime node --handler app.handler ./examples/hello-fn/node
//	stoa fn invoke hello-go --payload '{"name":"Ada"}'
//	stoa fn invoke hello-node --payload '{"name":"Ada"}'
//	stoa fn logs hello-go
//
// The test in this directory runs exactly those commands, through the
// stoa command's code in process.
package hellofn
