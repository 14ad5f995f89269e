// Command subtract is the calculator example's subtract service: it serves
// role:calculator,cmd:subtract on the mesh, as the chapter's subtract.js
// does.
//
//	go run ./examples/calculator/subtract [-nats nats://127.0.0.1:4222]
//
// It prints "ready" once it has joined, and leaves cleanly on SIGINT or
// SIGTERM.
package main

import (
	"context"

	"github.com/stoaproject/stoa/examples/calculator/internal/service"
)

func main() {
	service.Run("subtract", "role:calculator,cmd:subtract", func(_ context.Context, in service.Operands) (service.Result, error) {
		return service.Result{Result: in.Operands[0] - in.Operands[1]}, nil
	})
}
