// Package service is what the calculator example's two services share:
// their message and reply, and joining the mesh with one pin.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// Operands is the message: {"role":"calculator","cmd":…,"operands":[7,3]}.
type Operands struct {
	Operands []float64 `json:"operands"`
}

// Result is the reply: {"result":10}.
type Result struct {
	Result float64 `json:"result"`
}

// Run serves pin with op on the mesh named by the -nats flag (or NATS_URL)
// until SIGINT or SIGTERM, then leaves cleanly.
func Run(name, pin string, op func(context.Context, Operands) (Result, error)) {
	nats := flag.String("nats", "", "NATS servers of the mesh (default $NATS_URL, else "+mesh.DefaultURL+")")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	e := stoa.New()
	err := e.Add(pin, stoa.Handle(func(ctx context.Context, in Operands) (Result, error) {
		if len(in.Operands) != 2 {
			return Result{}, errors.New("operands must be two numbers")
		}
		return op(ctx, in)
	}))
	if err != nil {
		log.Fatal(err)
	}
	opts := append(mesh.FromEnv(os.Getenv), mesh.WithName(name), mesh.WithIdempotentPins(pin))
	if *nats != "" {
		opts = append(opts, mesh.WithURLs(*nats))
	}
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	node, err := mesh.Join(jctx, e, opts...)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node.Close(cctx)
	e.Close(cctx)
}
