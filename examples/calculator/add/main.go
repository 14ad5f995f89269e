// Command add is the calculator example's add service: it serves
// role:calculator,cmd:add on the mesh, as the chapter's add.js does.
//
//	go run ./examples/calculator/add [-nats nats://127.0.0.1:4222]
//
// Start as many as you like: the mesh shares the acts between them. It
// prints "ready" once it has joined, and leaves cleanly on SIGINT or
// SIGTERM.
package main

import (
	"context"

	"github.com/stoaproject/stoa/examples/calculator/internal/service"
)

func main() {
	service.Run("add", "role:calculator,cmd:add", func(_ context.Context, in service.Operands) (service.Result, error) {
		return service.Result{Result: in.Operands[0] + in.Operands[1]}, nil
	})
}
