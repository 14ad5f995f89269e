// Command calculator is the calculator example's client, as the chapter's
// calculator.js: it acts role:calculator,cmd:add and cmd:subtract on 7 and
// 3 without knowing where the services run, prints
//
//	Addition result -> 10
//	Subtraction result -> 4
//
// and exits.
//
//	go run ./examples/calculator/calculator [-nats nats://127.0.0.1:4222]
//
// It waits (up to -wait) for both services to be on the mesh, so the four
// processes may start in any order.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/examples/calculator/internal/service"
	"github.com/stoaproject/stoa/mesh"
)

func main() {
	nats := flag.String("nats", "", "NATS servers of the mesh (default $NATS_URL, else "+mesh.DefaultURL+")")
	wait := flag.Duration("wait", 30*time.Second, "how long to wait for the services")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()

	e := stoa.New()
	defer e.Close(context.Background())
	opts := append(mesh.FromEnv(os.Getenv), mesh.WithName("calculator"))
	if *nats != "" {
		opts = append(opts, mesh.WithURLs(*nats))
	}
	node, err := mesh.Join(ctx, e, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(context.Background())
	for _, pin := range []string{"role:calculator,cmd:add", "role:calculator,cmd:subtract"} {
		if err := node.WaitFor(ctx, pin, 1); err != nil {
			log.Fatal(err)
		}
	}
	for _, op := range []struct{ cmd, label string }{{"add", "Addition"}, {"subtract", "Subtraction"}} {
		r, err := stoa.Call[service.Result](ctx, e, stoa.Msg{"role": "calculator", "cmd": op.cmd, "operands": []float64{7, 3}})
		if err != nil {
			fmt.Printf("%s result -> %v\n", op.label, err)
			continue
		}
		fmt.Printf("%s result -> %v\n", op.label, r.Result)
	}
}
