// Package mesh joins act engines into one system over NATS: a node serves
// its engine's pins to the others, and learns theirs, so that an act sent
// on any engine reaches a live provider of the pattern it matches, wherever
// that runs. Membership, balancing and failover are NATS's; the mesh adds
// the pattern layer. RATIONALE.md says why it works as it does.
//
// # Joining
//
// A service adds its patterns to an engine and joins with the pins it
// serves; a caller joins with none:
//
//	e := stoa.New()
//	e.Add("role:calculator,cmd:add", add)
//	node, err := mesh.Join(ctx, e, mesh.WithPins("role:calculator,cmd:add"))
//	defer node.Close(ctx)
//
//	caller := stoa.New()
//	cn, err := mesh.Join(ctx, caller)
//	out, err := caller.Act(ctx, "role:calculator,cmd:add,operands:[7,3]")
//
// [Join] connects to a NATS server (a [Base] on this machine by default,
// [WithURLs] for others), registers the node with the NATS service API
// (nats micro list shows it, each pin an endpoint), learns the pins of the
// nodes already there and announces its own. For every pin another node
// serves, the node adds a forwarding handler to the engine, so the engine's
// most-specific rule chooses between local patterns and remote pins alike;
// a pattern the engine has itself stays local.
//
// # Balancing and failover
//
// Every provider of a pin subscribes to the pin's subject in one NATS queue
// group: NATS gives each act to one of them. A provider that dies drops out
// with its connection, so later acts go to the others without an error. An
// act that was in flight on it fails with action_timeout at its deadline,
// or, if its pin is idempotent ([WithIdempotentPins]), is sent again and
// answered by another provider. When no provider is left, NATS answers
// "no responders" at once and the act fails with act_not_found; the node
// then checks which providers are gone and drops the pin.
//
// [Node.Close] leaves cleanly: the node stops taking acts, finishes those in
// flight and replies, then disconnects; callers see no error.
//
// # Connections
//
// Nodes connect with settings that survive lost servers and partitions
// ([Options]): unlimited reconnects with a short jittered wait, a ping
// every [PingInterval], every seed URL. Their connections gather the
// writes of acts sent at the same time into one write to the socket.
// [Auth] passes NATS credentials and TLS through; [FromEnv] reads them
// from natscli's variables.
//
// # Base nodes
//
// A [Base] runs a NATS server in the process, for one machine or, with
// routes, as a member of a cluster. `stoa base` runs one.
//
// # Metadata and metrics
//
// An act's metadata (its id, transaction, parent and caller) and its
// deadline cross the hop in front of the message, and its W3C trace context
// in the standard traceparent and tracestate headers, so a handler on the
// far side sees the caller's. [WithRegisterer] exports the hop's
// Prometheus metrics: acts sent and served per pin, their latency, retries
// and providers known.
package mesh
