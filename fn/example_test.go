package fn_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/internal/natstest"
)

// registry opens a registry on an in-process NATS server with JetStream in
// a temporary directory, as `stoa up` runs one; stop removes it all.
func registry() (reg *fn.Registry, stop func()) {
	store, err := os.MkdirTemp("", "stoa-example-*")
	if err != nil {
		log.Fatal(err)
	}
	o := natstest.Options()
	o.JetStream, o.StoreDir = true, store
	s, err := natstest.Start(o)
	if err != nil {
		log.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	reg, err = fn.Open(context.Background(), js)
	if err != nil {
		log.Fatal(err)
	}
	return reg, func() { nc.Close(); s.Shutdown(); os.RemoveAll(store) }
}

// bundle writes a custom-runtime bundle: an executable bootstrap.
func bundle() string {
	dir, err := os.MkdirTemp("", "stoa-example-bundle-*")
	if err != nil {
		log.Fatal(err)
	}
	err = os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\nexec ./server\n"), 0o755)
	if err != nil {
		log.Fatal(err)
	}
	return dir
}

// Deploy, update, alias and resolve a function.
func Example() {
	reg, stop := registry()
	defer stop()
	ctx := context.Background()
	dir := bundle()
	defer os.RemoveAll(dir)

	v1, err := reg.Create(ctx, "hello", fn.Config{Runtime: fn.RuntimeProvided}, fn.DirBundle(dir))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", v1.Function, "version", v1.Number, "memory", v1.Config.MemoryMB, "timeout", v1.Config.Timeout)

	// A new configuration, the same code (nil bundle).
	v2, err := reg.Update(ctx, "hello", &fn.Config{Runtime: fn.RuntimeProvided, MemoryMB: 256}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("updated to version", v2.Number, "memory", v2.Config.MemoryMB, "same code:", v2.CodeSHA == v1.CodeSHA)

	if err := reg.SetAlias(ctx, "hello", "prod", 1); err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{"", "prod", "2"} {
		v, err := reg.Resolve(ctx, "hello", q)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%q is version %d\n", q, v.Number)
	}

	_, err = reg.Create(ctx, "hello world", fn.Config{}, fn.DirBundle(dir))
	fmt.Println(errors.Is(err, fn.ErrInvalidName), err)
	_, err = reg.Create(ctx, "big", fn.Config{MemoryMB: 64}, fn.DirBundle(dir))
	fmt.Println(errors.Is(err, fn.ErrInvalidConfig), err)
	// Output:
	// created hello version 1 memory 128 timeout 3s
	// updated to version 2 memory 256 same code: true
	// "" is version 2
	// "prod" is version 1
	// "2" is version 2
	// true fn_invalid_name: hello world: a function name is 1 to 64 letters, digits, '-' or '_'
	// true fn_invalid_config: big: memoryMB: 64 MB is outside 128–10240 MB
}

// A worker learns of new versions as they are stored.
func ExampleRegistry_Watch() {
	reg, stop := registry()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := bundle()
	defer os.RemoveAll(dir)

	events, err := reg.Watch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println((<-events).Op) // the registry is empty: ready at once

	if _, err := reg.Create(ctx, "hello", fn.Config{}, fn.DirBundle(dir)); err != nil {
		log.Fatal(err)
	}
	if _, err := reg.Update(ctx, "hello", &fn.Config{Description: "v2"}, nil); err != nil {
		log.Fatal(err)
	}
	if err := reg.SetAlias(ctx, "hello", "prod", 2); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		e := <-events
		fmt.Println(e.Op, e.Name, "latest", e.Latest.Number, "aliases", e.Function.Aliases)
	}
	// Output:
	// ready
	// created hello latest 1 aliases map[]
	// updated hello latest 2 aliases map[]
	// aliased hello latest 2 aliases map[prod:2]
}
