// Command base is the calculator example's base node: the NATS server the
// other three processes meet on, as the chapter's base.js is for
// seneca-mesh.
//
//	go run ./examples/calculator/base            # nats://127.0.0.1:4222
//	go run ./examples/calculator/base -listen 127.0.0.1:0
//
// It prints "ready nats=URL" once it accepts connections, and stops on
// SIGINT or SIGTERM. `stoa base` does the same, with more options.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stoaproject/stoa/mesh"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:4222", "host:port for the nodes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &mesh.Base{Listen: *listen, LameDuck: 500 * time.Millisecond}
	if err := b.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready nats=" + b.ClientURL())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.Shutdown(sctx)
}
