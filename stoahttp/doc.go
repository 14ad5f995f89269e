// Package stoahttp carries acts over HTTP on Seneca's wire, so that Stoa
// services and Node Seneca services call each other both ways, and curl
// can call either.
//
// # Listening
//
// A [Server] is Seneca's listen(): it serves an engine's patterns on
// POST /act (any method, in fact), port 10101 by default, over HTTP/1.1
// (fasthttp's, for speed; [Server.ServeHTTP] mounts it in a net/http
// server instead):
//
//	e := stoa.New()
//	e.Add("role:hello,cmd:sayHello", hello)
//	srv := &stoahttp.Server{Engine: e, Addr: ":8082"}
//	go srv.ListenAndServe()
//	defer srv.Close(ctx) // stops accepting, finishes the acts in flight
//
// The message is the JSON body (empty means {}, an array becomes
// {"0":…,"1":…}), overlaid by the msg$ query parameter in Seneca's string
// form, overlaid by the other query parameters (strings; a[b]=1 and a=1&a=2
// as Seneca's qs reads them). The reply is the act's result with status
// 200, or the error as Seneca's JSON ([stoa.Error.MarshalJSON]) with status
// 500, or the statusCode its details give. Every reply carries what a
// Seneca client needs to accept it: Content-Type: application/json and the
// seneca-id and seneca-origin of the request, echoed, with the other
// seneca-* headers a Seneca listener sends. The act adopts the caller's
// seneca-id ("<act id>/<transaction id>"), seneca-origin and W3C
// traceparent, which a handler reads with [stoa.ContextMeta].
//
// Unlike a Seneca listener, a Server refuses bad input with a 4xx and a
// JSON error: a body over [Server.MaxBodyBytes] (6 MB) gets 413, one that
// is not JSON, not an object or an array, or nested deeper than
// [Server.MaxDepth] gets 400. Header, read, write and idle timeouts bound
// slow and idle callers. System messages (role seneca, transport, options,
// mesh) get 403 and fatal$ is dropped unless [Server.AllowSystem] is set.
// Error replies carry no file path of the host. The Server also serves
// /healthz and Prometheus /metrics (acts by pattern and outcome, a latency
// histogram), each of which can be turned off.
//
// # Calling
//
// A [Client] is Seneca's client(): [NewClient] attaches it to an engine
// with the patterns it answers for ([WithPins]), or as the catch-all for
// every act no local pattern matches:
//
//	caller := stoa.New()
//	stoahttp.NewClient(caller, "localhost:8082", stoahttp.WithPins("role:hello"))
//	out, err := caller.Act(ctx, "role:hello,cmd:sayHello")
//
// A caller cannot tell a remote act from a local one: the conformance suite
// [stoatest.Run] passes through a Client and a Server as it does on one
// engine. The client keeps connections alive (a Seneca client opens one per
// act), sends the act's metadata as Seneca's headers and its remaining
// time as timeout$, which a Seneca listener obeys too, and returns the far
// side's own error as a *stoa.Error with its code (a Seneca caller only
// ever sees act_execute). Closing the engine closes its clients.
//
// RATIONALE.md in this directory records the choices made, and where a
// Server answers differently from a Seneca listener.
package stoahttp
