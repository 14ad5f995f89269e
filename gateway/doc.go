// Package gateway is Stoa's HTTP front door, API Gateway's counterpart:
// routes map requests to functions, which receive an API Gateway proxy event
// (so claudia-api-builder apps and aws-lambda-go handlers run unchanged), or
// to act patterns on the mesh, with the request folded into the message.
//
//	e := stoa.New()
//	node, err := mesh.Join(ctx, e) // every pin of the mesh now answers e's acts
//	gw := &gateway.Server{Engine: e, Addr: ":8080", Store: store, Token: token}
//	go gw.ListenAndServe()
//	defer gw.Shutdown(ctx) // stops accepting, finishes the requests in flight
//
// # Routes
//
// A [Route] is a method ("GET", …, or "ANY"), a path template and a
// target: a function (name, alias or version, event format) or an act
// pattern. Templates follow API Gateway: literal segments, {param} for one
// segment, and a final {param+} for the rest of the path (one segment or
// more): "/users/{id}", "/static/{proxy+}".
//
// Routes come from three sources, in this order of precedence:
// [Server.Routes] (fixed in code), the route [Store] (a JetStream key-value
// bucket, which the management API and routes files write and every gateway
// of the mesh watches, so a change takes effect everywhere without a
// restart), and the routes functions declare in their configuration
// ([FunctionSource], kept up to date from the function registry).
//
// # Which route answers
//
// For a request, among the routes whose template matches its path and
// whose method is the request's or ANY:
//
//  1. Templates are compared segment by segment from the left; at the first
//     segment where they differ in kind, a literal beats a {param}, which
//     beats a {greedy+}. So GET /users/me beats GET /users/{id} for
//     /users/me, and /a/{x}/{rest+} beats /a/{rest+} for /a/b/c.
//  2. For the same template, a route naming the method beats ANY.
//
// Path first, then method: if the most specific path has no route for the
// method (nor ANY), a less specific path that has one answers. If no route
// matches the method but some match the path, the answer is 405 with an
// Allow header; if none matches the path, 404. A trailing slash is
// ignored ("/users/" is "/users"); {param} never matches an empty segment.
//
// Two different templates that can match the same path always differ in
// kind at some segment, so rule 1 decides between them. The one ambiguity
// left is two routes of the same method whose templates differ only in
// parameter names ("/users/{id}" and "/users/{name}"): adding the second is
// refused with [ErrAmbiguous], as adding a key that another source holds
// is refused with [ErrDuplicate]. A route that a function declares and
// that collides with a route of higher precedence is left out and listed
// by [Server.Conflicts] (and GET /_stoa/api/v1/routes).
//
// # Function routes
//
// The request becomes an API Gateway proxy event, REST API payload 1.0 by
// default or HTTP API payload 2.0 (Route.Format), and is sent to the
// function as the act fn:NAME, which the function workers of the mesh
// serve. The function's {statusCode, headers, multiValueHeaders, body,
// isBase64Encoded} (and cookies in 2.0) becomes the response; any other
// JSON it returns becomes a 200 with that JSON as the body. Bodies that
// are not text travel base64-encoded both ways. A function that fails,
// times out or replies with a malformed proxy response gets API Gateway's
// 502 {"message":"Internal server error"}.
//
// # Act routes
//
// The message is the JSON body's keys, overlaid by the query's parameters,
// overlaid by the path's parameters, overlaid by the route's pattern (which
// the client cannot change); keys ending in '$' from the client are
// dropped. The reply is the act's result, as JSON. Errors:
//
//	act_not_found                      404
//	act_invalid_msg, invalid_json      400
//	action_timeout                     504
//	handler errors (act_execute, …)    500, or the details.statusCode the error carries
//
// # What the gateway answers itself
//
// Every error is JSON, {"message", "code", "requestId"}; the request id is
// also in the X-Request-Id header of every reply and in the log line of
// the error. The gateway answers:
//
//   - 404 route_not_found for a path no route matches. API Gateway's REST
//     APIs answer 403 {"message":"Missing Authentication Token"} there, for
//     reasons of their own (an unknown path might be a resource the caller
//     may not see); Stoa answers as HTTP APIs do, 404 {"message":"Not Found"},
//     which is what the path's absence means.
//   - 405 method_not_allowed when routes match the path but not the method.
//   - 413 request_too_large for a body over [Server.MaxBodyBytes] (6 MB,
//     Lambda's payload limit), and for an act or event bigger than the
//     NATS server of the mesh carries (its max_payload: 8 MB under stoa up
//     and stoa base, 1 MB on a NATS left at its default) or than Lambda's
//     cap once wrapped in the event.
//   - 429 rate_limited when the route's token bucket ([RateLimit]) is empty.
//   - 504 when the route's timeout passes ([Route.Timeout], default 29 s as
//     API Gateway's integration timeout).
//   - CORS preflight requests of routes with a [CORS] policy: 204.
//   - /healthz and /livez (the process is up), /readyz (routes loaded and
//     not draining: 503 otherwise), /metrics (Prometheus).
//
// # Management API
//
// Under [APIPrefix] (/_stoa/api/v1), JSON, behind a bearer token
// ([Server.Token], compared in constant time; without it: 401, nothing
// changed):
//
//	GET, PUT             /routes                 routes in effect (and conflicts); replace the stored ones
//	GET, PUT, DELETE     /routes/{key}           one route ("GET /users/{id}", path-escaped)
//	GET, POST            /functions              list; create (config, base64 zip)
//	GET, PUT, DELETE     /functions/{name}       get; update (new version); delete
//	GET                  /functions/{name}/versions[/{version}]
//	GET                  /functions/{name}/routes  the routes of its latest version, once in effect here
//	PUT, DELETE          /functions/{name}/aliases/{alias}
//	POST                 /functions/{name}/invoke
//
// The function endpoints call the registry ([Server.Registry]); a
// function's declared routes are checked against the table before it is
// stored, and create and update answer once this gateway routes by them.
// A client that changed a function otherwise (over NATS, or through
// another gateway) asks /functions/{name}/routes, which answers once this
// gateway routes by the function's latest version: `stoa fn create
// --route` prints the URLs it lists.
// The OpenAPI document, openapi.json in this directory, is served at the
// prefix.
//
// # Shutdown
//
// [Server.Shutdown] drains: /readyz turns 503, the listener closes, requests
// in flight finish, then the route watchers stop. RATIONALE.md in this
// directory records the choices made and why.
package gateway
