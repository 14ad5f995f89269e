package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/gateway"
)

// fakeWorker serves fn:* on the mesh as a function worker does (its
// message {fn, qualifier, payload}, its reply {version, requestId,
// payload}), with a few functions whose behaviour the tests need.
func fakeWorker(t *testing.T, ns *server.Server) {
	t.Helper()
	reply := func(payload any) (any, error) {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, err
		}
		return map[string]any{"version": 3, "requestId": "r-1", "payload": json.RawMessage(b)}, nil
	}
	provider(t, ns, map[string]stoa.Handler{"fn:*": func(ctx context.Context, m stoa.Msg) (any, error) {
		ev, _ := json.Marshal(m["payload"])
		var event map[string]any
		json.Unmarshal(ev, &event)
		switch m["fn"] {
		case "echo": // answers with the event it got, and the qualifier
			return reply(map[string]any{"statusCode": 200,
				"headers": map[string]string{"Content-Type": "application/json", "X-Qualifier": m["qualifier"].(string)},
				"body":    string(ev)})
		case "mirror": // answers with the request's body, as it came
			return reply(map[string]any{"statusCode": 201, "multiValueHeaders": map[string][]string{"Content-Type": {"image/png"}},
				"body": event["body"], "isBase64Encoded": event["isBase64Encoded"]})
		case "hello":
			return reply("Hello from AWS!")
		case "bad":
			return reply(map[string]any{"statusCode": "abc"})
		case "nonjson":
			return map[string]any{"version": 1, "payloadBase64": []byte("not json")}, nil
		case "fail":
			return nil, &stoa.Error{Code: "fn_error", Message: "Error: boom", Details: map[string]any{"payload": map[string]any{"errorMessage": "boom"}}}
		case "toolarge": // as a worker refuses an event over Lambda's cap
			return nil, &stoa.Error{Code: "fn_request_too_large", Message: "request payload of 6291557 bytes is over the limit of 6291556 bytes"}
		case "slow":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, &stoa.Error{Code: "fn_not_found", Message: "no such function"}
	}})
}

// TestFunctionRoute: a request reaches the function as a proxy event across
// the mesh, and its proxy response becomes the HTTP reply.
func TestFunctionRoute(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "POST", Path: "/users/{id}", Function: "echo", Qualifier: "prod"},
		{Method: "GET", Path: "/v2/{proxy+}", Function: "echo", Format: gateway.FormatHTTP},
	}}, "fn:*")

	r := do(t, "POST", g.url+"/users/42?x=1", `{"a":1}`, "Content-Type: application/json")
	if r.status != 200 || r.header.Get("X-Qualifier") != "prod" {
		t.Fatalf("POST /users/42: got %d (qualifier %q) %s", r.status, r.header.Get("X-Qualifier"), r.body)
	}
	ev := r.json(t)
	ctx, _ := ev["requestContext"].(map[string]any)
	for k, want := range map[string]any{"resource": "/users/{id}", "path": "/users/42", "httpMethod": "POST", "body": `{"a":1}`} {
		if ev[k] != want {
			t.Errorf("event %s = %#v, want %#v", k, ev[k], want)
		}
	}
	if ctx["requestId"] != r.header.Get("X-Request-Id") || ctx["resourcePath"] != "/users/{id}" {
		t.Errorf("requestContext %v: want requestId %s and resourcePath /users/{id}", ctx, r.header.Get("X-Request-Id"))
	}

	r = do(t, "GET", g.url+"/v2/a/b?q=1", "")
	ev = r.json(t)
	if ev["version"] != "2.0" || ev["routeKey"] != "GET /v2/{proxy+}" || ev["rawQueryString"] != "q=1" {
		t.Errorf("2.0 event: %s", r.body)
	}
	if p, _ := ev["pathParameters"].(map[string]any); p["proxy"] != "a/b" {
		t.Errorf("2.0 event pathParameters %v, want proxy a/b", ev["pathParameters"])
	}
}

// TestFunctionBinary: a binary body reaches the function base64-encoded
// and comes back as the same bytes.
func TestFunctionBinary(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{{Method: "POST", Path: "/img", Function: "mirror"}}}, "fn:*")
	bin := string([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff, 0xfe, '\n'})
	r := do(t, "POST", g.url+"/img", bin, "Content-Type: image/png")
	if r.status != 201 || r.body != bin || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("binary round trip: got %d %q (%s), want 201 %q", r.status, r.body, r.header.Get("Content-Type"), bin)
	}
	text := "plain text, é"
	if r := do(t, "POST", g.url+"/img", text, "Content-Type: text/plain"); r.body != text {
		t.Errorf("text round trip: got %q, want %q", r.body, text)
	}
}

// TestFunctionErrors: API Gateway's answers when the function does not
// give a proxy response.
func TestFunctionErrors(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "GET", Path: "/hello", Function: "hello"},
		{Method: "GET", Path: "/bad", Function: "bad"},
		{Method: "GET", Path: "/nonjson", Function: "nonjson"},
		{Method: "GET", Path: "/fail", Function: "fail"},
		{Method: "GET", Path: "/slow", Function: "slow", Timeout: 100 * time.Millisecond},
		{Method: "GET", Path: "/missing", Function: "missing"},
	}}, "fn:*")

	r := do(t, "GET", g.url+"/hello", "")
	if r.status != 200 || r.body != `"Hello from AWS!"` || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("a reply that is not a proxy response: got %d %q %q, want 200 \"Hello from AWS!\" as JSON", r.status, r.body, r.header.Get("Content-Type"))
	}
	for _, p := range []string{"/bad", "/nonjson", "/fail", "/missing"} {
		m := checkError(t, g, p, do(t, "GET", g.url+p, ""), 502, gateway.CodeBadGateway)
		if m != nil && m["message"] != "Internal server error" {
			t.Errorf("%s: message %v, want API Gateway's Internal server error", p, m["message"])
		}
	}
	m := checkError(t, g, "route timeout", do(t, "GET", g.url+"/slow", ""), 504, gateway.CodeTimeout)
	if m != nil && m["message"] != "Endpoint request timed out" {
		t.Errorf("timeout message %v", m["message"])
	}
	if !strings.Contains(g.log.String(), "boom") {
		t.Errorf("the function's error is not in the log")
	}
}

// TestInvokeAPI: POST /functions/{name}/invoke runs the function through
// the mesh; a function error comes back as Lambda's Invoke API gives it.
func TestInvokeAPI(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	g := startGateway(t, ns, &gateway.Server{Token: token}, "fn:*")
	r := do(t, "POST", g.url+gateway.APIPrefix+"/functions/hello/invoke", `{}`, auth)
	if r.status != 200 || r.body != `"Hello from AWS!"` || r.header.Get("X-Stoa-Function-Version") != "3" {
		t.Errorf("invoke hello: got %d %s (version %q)", r.status, r.body, r.header.Get("X-Stoa-Function-Version"))
	}
	r = do(t, "POST", g.url+gateway.APIPrefix+"/functions/echo/invoke?qualifier=7", `{"k":"v"}`, auth)
	if r.status != 200 || r.header.Get("X-Stoa-Function-Version") != "3" || !strings.Contains(r.body, `"X-Qualifier":"7"`) {
		t.Errorf("invoke echo:7: got %d %s", r.status, r.body)
	}
	r = do(t, "POST", g.url+gateway.APIPrefix+"/functions/fail/invoke", ``, auth)
	if r.status != 200 || r.header.Get("X-Amz-Function-Error") != "Unhandled" || r.body != `{"errorMessage":"boom"}` {
		t.Errorf("invoke fail: got %d %s (%v), want 200 with X-Amz-Function-Error and the error body", r.status, r.body, r.header)
	}
	checkError(t, g, "no such function", do(t, "POST", g.url+gateway.APIPrefix+"/functions/missing/invoke", ``, auth), 404, "fn_not_found")
	checkError(t, g, "payload not JSON", do(t, "POST", g.url+gateway.APIPrefix+"/functions/hello/invoke", `{`, auth), 400, gateway.CodeBadRequest)
}

// fakeFunctions is a FunctionSource fed by the test.
type fakeFunctions struct{ sets chan []gateway.Route }

func (f *fakeFunctions) WatchRoutes(ctx context.Context, set func([]gateway.Route)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case rs := <-f.sets:
			set(rs)
		}
	}
}

var _ gateway.FunctionSource = (*fakeFunctions)(nil)

// TestFunctionSource: routes functions declare come and go with the
// source; one that collides with a stored route is left out and listed.
func TestFunctionSource(t *testing.T) {
	ns := natsServer(t)
	fakeWorker(t, ns)
	src := &fakeFunctions{sets: make(chan []gateway.Route, 1)}
	src.sets <- []gateway.Route{{Method: "GET", Path: "/hello", Function: "hello"}}
	g := startGateway(t, ns, &gateway.Server{Functions: src, Store: openStore(t, ns), Token: token}, "fn:*")
	if r := do(t, "GET", g.url+"/hello", ""); r.status != 200 || r.body != `"Hello from AWS!"` {
		t.Fatalf("GET /hello: got %d %s", r.status, r.body)
	}
	if rs := g.RoutesInEffect(); len(rs) != 1 || rs[0].Source != "function:hello" {
		t.Errorf("routes in effect %v, want GET /hello from function:hello", rs)
	}

	// A stored route with the key of a function's is refused.
	checkError(t, g, "stored over a function route", do(t, "PUT", g.url+keyPath("GET /hello"), `{"act":"role:x"}`, auth), 409, gateway.CodeConflict)

	// A function declaring a route the store has is left out, and listed.
	if _, err := g.PutRoute(t.Context(), gateway.Route{Method: "GET", Path: "/taken/{id}", Act: "role:x"}); err != nil {
		t.Fatal(err)
	}
	waitRoutes(t, g.Server, hasRoute("GET /taken/{id}"))
	src.sets <- []gateway.Route{{Method: "GET", Path: "/hi", Function: "hello"}, {Method: "GET", Path: "/taken/{name}", Function: "hello"}}
	waitRoutes(t, g.Server, hasRoute("GET /hi"))
	if rs := g.RoutesInEffect(); keysOf(rs) != "GET /hi|GET /taken/{id}" {
		t.Errorf("routes in effect %q", keysOf(rs))
	}
	r := do(t, "GET", g.url+gateway.APIPrefix+"/routes", "", auth)
	var list struct {
		Routes    []gateway.Route
		Conflicts []gateway.Conflict
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Conflicts) != 1 || list.Conflicts[0].Route.Key() != "GET /taken/{name}" || !strings.Contains(list.Conflicts[0].Error, "ambiguous") {
		t.Errorf("conflicts %+v, want GET /taken/{name} as ambiguous", list.Conflicts)
	}
	if r := do(t, "GET", g.url+"/hello", ""); r.status != 404 {
		t.Errorf("GET /hello after the function dropped it: got %d, want 404", r.status)
	}
}

// failingFunctions is a FunctionSource that cannot watch.
type failingFunctions struct{}

func (failingFunctions) WatchRoutes(context.Context, func([]gateway.Route)) error {
	return errors.New("registry unreachable")
}

// TestStartFails: a source that cannot give its routes fails Start with
// its error (and Start returns only once its watchers have stopped); the
// gateway is not ready, and Serve refuses to serve.
func TestStartFails(t *testing.T) {
	e := newEngine(t)
	s := &gateway.Server{Engine: e, Functions: failingFunctions{}}
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "registry unreachable") {
		t.Fatalf("Start = %v, want the source's error", err)
	}
	if s.Ready() == nil {
		t.Error("Ready() = nil after a failed Start")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err == nil || errors.Is(err, gateway.ErrServerClosed) {
		t.Errorf("Serve after a failed Start = %v, want Start's error", err)
	}
}
