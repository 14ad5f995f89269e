package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/gateway"
)

// echo replies with the message it got.
func echo(_ context.Context, m stoa.Msg) (any, error) { return map[string]any{"got": m}, nil }

// TestActRoute: path parameters, query and JSON body fold into the message
// over the mesh; the route's pattern wins over what the client sends; '$'
// keys from the client are dropped; the reply is the body.
func TestActRoute(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:user,cmd:get": echo})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "POST", Path: "/users/{id}", Act: "role:user,cmd:get"},
	}}, "role:user,cmd:get")

	r := do(t, "POST", g.url+"/users/42?q=x&tag=a&tag=b&id=fromquery", `{"role":"admin","id":"frombody","name":"Ada","n":1.5,"timeout$":1,"default$":{}}`,
		"Content-Type: application/json")
	if r.status != 200 {
		t.Fatalf("POST /users/42: got %d %s, want 200", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var out struct{ Got map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"role": `"user"`, "cmd": `"get"`, // the route's pattern, not the body's role
		"id": `"42"`, // the path beats the query and the body
		"q":  `"x"`, "tag": `["a","b"]`,
		"name": `"Ada"`, "n": `1.5`,
	} {
		if got := string(out.Got[k]); got != want {
			t.Errorf("message %s = %s, want %s (message %s)", k, got, want, r.body)
		}
	}
	for _, k := range []string{"timeout$", "default$"} {
		if _, ok := out.Got[k]; ok {
			t.Errorf("message has %s from the client: %s", k, r.body)
		}
	}
	if id := r.header.Get("X-Request-Id"); id == "" {
		t.Error("no X-Request-Id on a reply")
	}
}

// TestActErrors: every error of an act route is JSON with a request id
// that is in the log, with the status of its code.
func TestActErrors(t *testing.T) {
	ns := natsServer(t)
	release := make(chan struct{})
	defer close(release)
	provider(t, ns, map[string]stoa.Handler{
		"role:t,cmd:fail": func(context.Context, stoa.Msg) (any, error) {
			return nil, errors.New("database password is hunter2")
		},
		"role:t,cmd:conflict": func(context.Context, stoa.Msg) (any, error) {
			return nil, &stoa.Error{Code: "user_exists", Message: "user exists", Details: map[string]any{"statusCode": 409}}
		},
		"role:t,cmd:slow": func(ctx context.Context, _ stoa.Msg) (any, error) {
			select {
			case <-ctx.Done():
			case <-release:
			}
			return nil, ctx.Err()
		},
		"role:t,cmd:huge": func(context.Context, stoa.Msg) (any, error) {
			return map[string]any{"blob": strings.Repeat("x", 2<<20)}, nil // over NATS's default 1 MB max_payload
		},
		"role:t,cmd:typed": stoa.Handle(func(_ context.Context, in struct{ N int }) (struct{}, error) { return struct{}{}, nil }),
	})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "GET", Path: "/fail", Act: "role:t,cmd:fail"},
		{Method: "GET", Path: "/conflict", Act: "role:t,cmd:conflict"},
		{Method: "GET", Path: "/slow", Act: "role:t,cmd:slow", Timeout: 100 * time.Millisecond},
		{Method: "POST", Path: "/typed", Act: "role:t,cmd:typed"},
		{Method: "GET", Path: "/nobody", Act: "role:nobody,cmd:here"},
		{Method: "GET", Path: "/huge", Act: "role:t,cmd:huge"},
		{Method: "GET", Path: "/items", Act: "role:t,cmd:fail"},
		{Method: "POST", Path: "/items", Act: "role:t,cmd:fail"},
	}}, "role:t,cmd:fail", "role:t,cmd:slow", "role:t,cmd:typed", "role:t,cmd:conflict", "role:t,cmd:huge")

	m := checkError(t, g, "handler error", do(t, "GET", g.url+"/fail", ""), 500, stoa.CodeExecute)
	if strings.Contains(fmt.Sprint(m), "hunter2") {
		t.Errorf("a handler's error text reached the client: %v", m)
	}
	if !strings.Contains(g.log.String(), "hunter2") {
		t.Errorf("a handler's error text is not in the log")
	}
	checkError(t, g, "details.statusCode", do(t, "GET", g.url+"/conflict", ""), 409, "user_exists")
	checkError(t, g, "route timeout", do(t, "GET", g.url+"/slow", ""), 504, stoa.CodeTimeout)
	checkError(t, g, "no provider", do(t, "GET", g.url+"/nobody", ""), 404, stoa.CodeNotFound)
	checkError(t, g, "reply over max_payload", do(t, "GET", g.url+"/huge", ""), 502, stoa.CodeReplyTooLarge)
	checkError(t, g, "body not an object", do(t, "POST", g.url+"/typed", `[1,2]`), 400, stoa.CodeInvalidJSON)
	checkError(t, g, "body not JSON", do(t, "POST", g.url+"/typed", `{"N":`), 400, stoa.CodeInvalidJSON)
	checkError(t, g, "message not valid", do(t, "POST", g.url+"/typed", `{"N":"seven"}`), 400, stoa.CodeInvalidMsg)
	m = checkError(t, g, "no route", do(t, "GET", g.url+"/nowhere", ""), 404, gateway.CodeRouteNotFound)
	if m["message"] != "Not Found" {
		t.Errorf("no route: message %v, want Not Found", m["message"])
	}
	r := do(t, "DELETE", g.url+"/items", "")
	checkError(t, g, "wrong method", r, 405, gateway.CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, POST" {
		t.Errorf("405 Allow = %q, want %q", got, "GET, POST")
	}
}

// TestTooLarge: a body over the limit gets 413, whether its length is
// declared or not, and the handler never runs. The handler is on the
// gateway's own engine: NATS's default max_payload (1 MB) is below the
// gateway's limit, so a 6 MB act could not cross the mesh.
func TestTooLarge(t *testing.T) {
	ns := natsServer(t)
	called := make(chan struct{}, 4)
	e := newEngine(t)
	e.Add("role:up", func(context.Context, stoa.Msg) (any, error) {
		called <- struct{}{}
		return nil, nil
	})
	g := startGateway(t, ns, &gateway.Server{Engine: e, Routes: []gateway.Route{{Method: "POST", Path: "/up", Act: "role:up"}}})
	big := `{"a":"` + strings.Repeat("x", gateway.DefaultMaxBodyBytes) + `"}`
	checkError(t, g, "declared length", do(t, "POST", g.url+"/up", big), 413, gateway.CodeTooLarge)

	req, _ := http.NewRequestWithContext(t.Context(), "POST", g.url+"/up", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1 // chunked
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkError(t, g, "chunked", reply{resp.StatusCode, resp.Header, string(b)}, 413, gateway.CodeTooLarge)

	ok := `{"a":"` + strings.Repeat("x", gateway.DefaultMaxBodyBytes-8) + `"}` // exactly the limit
	if r := do(t, "POST", g.url+"/up", ok); r.status != 200 {
		t.Errorf("a body of exactly %d bytes: got %d %s, want 200", len(ok), r.status, r.body)
	}
	if len(called) != 1 {
		t.Errorf("the handler ran %d times, want 1 (only for the body within the limit)", len(called))
	}
}

// TestRateLimit: a route's token bucket lets Burst requests through, then
// answers 429 with Retry-After; other routes are not affected.
func TestRateLimit(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:r": echo})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "GET", Path: "/limited", Act: "role:r", RateLimit: &gateway.RateLimit{Rate: 0.001, Burst: 2}},
		{Method: "GET", Path: "/free", Act: "role:r"},
	}}, "role:r")
	for i := range 2 {
		if r := do(t, "GET", g.url+"/limited", ""); r.status != 200 {
			t.Fatalf("request %d within the burst: got %d %s", i+1, r.status, r.body)
		}
	}
	r := do(t, "GET", g.url+"/limited", "")
	checkError(t, g, "over the limit", r, 429, gateway.CodeRateLimited)
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	for range 5 {
		if r := do(t, "GET", g.url+"/free", ""); r.status != 200 {
			t.Fatalf("an unlimited route: got %d", r.status)
		}
	}
}

// TestCORS: the gateway answers a CORS route's preflight itself and adds
// the headers to replies; a route without CORS is left to its own routes.
func TestCORS(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:c": echo})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{
		{Method: "PUT", Path: "/things/{id}", Act: "role:c", CORS: &gateway.CORS{
			AllowOrigins: []string{"https://app.example"}, ExposeHeaders: []string{"X-Request-Id"}, MaxAge: 600}},
		{Method: "GET", Path: "/open", Act: "role:c", CORS: &gateway.CORS{AllowOrigins: []string{"*"}}},
		{Method: "GET", Path: "/plain", Act: "role:c"},
	}}, "role:c")

	pre := func(path, origin, method string) reply {
		return do(t, "OPTIONS", g.url+path, "", "Origin: "+origin, "Access-Control-Request-Method: "+method, "Access-Control-Request-Headers: content-type")
	}
	r := pre("/things/1", "https://app.example", "PUT")
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example",
		"Access-Control-Allow-Methods": "PUT",
		"Access-Control-Allow-Headers": "content-type",
		"Access-Control-Max-Age":       "600",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("preflight: %s = %q, want %q", k, got, want)
		}
	}
	if r.status != 204 {
		t.Errorf("preflight: got %d, want 204", r.status)
	}
	r = pre("/things/1", "https://evil.example", "PUT")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: got %d, Allow-Origin %q; want 204 and none", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = do(t, "PUT", g.url+"/things/1", "", "Origin: https://app.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" || r.header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
		t.Errorf("actual request: got %d, headers %v", r.status, r.header)
	}
	if r := do(t, "GET", g.url+"/open", "", "Origin: https://any.example"); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("open route: Allow-Origin %q, want *", r.header.Get("Access-Control-Allow-Origin"))
	}
	r = pre("/plain", "https://app.example", "GET")
	if r.status != 405 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight of a route without CORS: got %d (Allow-Origin %q), want 405 from routing", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
}

// TestHealthAndMetrics: /healthz, /livez and /readyz answer, and /metrics
// counts requests by route and status.
func TestHealthAndMetrics(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:m": echo})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{{Method: "GET", Path: "/m/{id}", Act: "role:m"}}}, "role:m")
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if r := do(t, "GET", g.url+p, ""); r.status != 200 {
			t.Errorf("%s: got %d %s, want 200", p, r.status, r.body)
		}
	}
	do(t, "GET", g.url+"/m/1", "")
	do(t, "GET", g.url+"/m/2", "")
	do(t, "GET", g.url+"/nope", "")
	r := do(t, "GET", g.url+"/metrics", "")
	for _, want := range []string{
		`stoa_gateway_requests_total{route="GET /m/{id}",status="200"} 2`,
		`stoa_gateway_requests_total{route="(none)",status="404"} 1`,
		`stoa_gateway_routes 1`,
		`stoa_gateway_request_duration_seconds_count{route="GET /m/{id}"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestShutdownDrains: Shutdown turns readiness off at once, lets a request
// in flight finish with its reply, and refuses new connections.
func TestShutdownDrains(t *testing.T) {
	ns := natsServer(t)
	started, release := make(chan struct{}), make(chan struct{})
	provider(t, ns, map[string]stoa.Handler{"role:d": func(ctx context.Context, _ stoa.Msg) (any, error) {
		close(started)
		<-release
		return map[string]any{"done": true}, nil
	}})
	g := startGateway(t, ns, &gateway.Server{Routes: []gateway.Route{{Method: "GET", Path: "/d", Act: "role:d"}}}, "role:d")
	got := make(chan reply, 1)
	go func() { got <- do(t, "GET", g.url+"/d", "") }()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- g.Shutdown(context.Background()) }()
	<-g.Draining()
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 {
		t.Errorf("/readyz once Shutdown has begun: got %d %s, want 503", rec.Code, rec.Body)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	if r := <-got; r.status != 200 || r.body != `{"done":true}` {
		t.Errorf("the request in flight got %d %s, want 200 {\"done\":true}", r.status, r.body)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(g.url, "http://"), time.Second); err == nil {
		t.Error("the gateway still accepts connections after Shutdown")
	}
}

// TestConnectionTimeouts: a client that sends its headers too slowly, or a
// keep-alive connection left idle, is disconnected.
func TestConnectionTimeouts(t *testing.T) {
	ns := natsServer(t)
	provider(t, ns, map[string]stoa.Handler{"role:x": echo})
	g := startGateway(t, ns, &gateway.Server{
		Routes:            []gateway.Route{{Method: "GET", Path: "/x", Act: "role:x"}},
		ReadHeaderTimeout: 200 * time.Millisecond,
		IdleTimeout:       200 * time.Millisecond,
	}, "role:x")
	addr := strings.TrimPrefix(g.url, "http://")

	// closedWithin reports whether the server closes c before d passes.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /x HTTP/1.1\r\nHost: x\r\n") // the headers never end
	if !closedWithin(c, 5*time.Second) {
		t.Error("a connection whose headers never end was not closed")
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprint(c2, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !closedWithin(c2, 5*time.Second) {
		t.Error("an idle keep-alive connection was not closed")
	}
}
