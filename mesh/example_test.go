package mesh_test

import (
	"context"
	"fmt"
	"log"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/mesh"
)

// A base node, a service serving one pin, and a caller that acts on it
// without knowing where it runs.
func ExampleJoin() {
	ctx := context.Background()
	base := &mesh.Base{Listen: "127.0.0.1:0"} // a free port; the default is 4222
	if err := base.Start(); err != nil {
		log.Fatal(err)
	}
	defer base.Close()

	type operands struct{ Operands [2]float64 }
	service := stoa.New()
	service.Add("role:calculator,cmd:add", stoa.Handle(func(_ context.Context, in operands) (map[string]float64, error) {
		return map[string]float64{"result": in.Operands[0] + in.Operands[1]}, nil
	}))
	sn, err := mesh.Join(ctx, service, mesh.WithURLs(base.ClientURL()), mesh.WithPins("role:calculator,cmd:add"))
	if err != nil {
		log.Fatal(err)
	}
	defer sn.Close(ctx)

	caller := stoa.New()
	cn, err := mesh.Join(ctx, caller, mesh.WithURLs(base.ClientURL()))
	if err != nil {
		log.Fatal(err)
	}
	defer cn.Close(ctx)
	out, err := caller.Act(ctx, "role:calculator,cmd:add,operands:[7,3]")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	// Output: {"result":10}
}

// List shows the nodes of a mesh and their pins, as `stoa mesh ls` does.
func ExampleList() {
	ctx := context.Background()
	base := &mesh.Base{Listen: "127.0.0.1:0"}
	if err := base.Start(); err != nil {
		log.Fatal(err)
	}
	defer base.Close()
	e := stoa.New()
	e.Add("role:calculator,cmd:add", func(context.Context, stoa.Msg) (any, error) { return stoa.Msg{}, nil })
	n, err := mesh.Join(ctx, e, mesh.WithURLs(base.ClientURL()), mesh.WithName("add"), mesh.WithIdempotentPins("role:calculator,cmd:add"))
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(ctx)

	peers, err := mesh.List(ctx, mesh.WithURLs(base.ClientURL()))
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range peers {
		for _, pin := range p.Pins {
			fmt.Println(p.Name, pin.Pattern, pin.Subject, pin.Idempotent)
		}
	}
	// Output: add cmd:add,role:calculator stoa.act.cmd:add,role:calculator true
}
