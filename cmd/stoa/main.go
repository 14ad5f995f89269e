// Command stoa runs and drives Stoa: acts, and later the mesh, functions
// and the gateway. See `stoa help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stoaproject/stoa/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
