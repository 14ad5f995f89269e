package test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stoaproject/stoa/fn"
)

// TestClaudiaApp: the chapter's claudia-api-builder app, unmodified, on the
// Node runtime behind the gateway: GET /hello answers "Hello from AWS!",
// the second handler shows the request as claudia documents it, a POST
// with a JSON body, an {id} route, its CORS answer, its error, and routes
// the app does not have.
func TestClaudiaApp(t *testing.T) {
	skipIfCannot(t)
	s := newSystem(t)
	s.startWorker("worker", 1)
	routes := s.deploy("claudia", nil)
	if got, want := strings.Join(routes, " "), "GET:/echo/{id} GET:/fail GET:/hello GET:/users/{id} GET:/who OPTIONS:/echo/{id} OPTIONS:/fail OPTIONS:/hello OPTIONS:/items OPTIONS:/users/{id} OPTIONS:/who POST:/echo/{id} POST:/items"; got != want {
		t.Errorf("routes from apiConfig() = %q, want %q", got, want)
	}

	// GET /hello, as in the chapter.
	r := s.do("GET", "/hello", "")
	if r.status != 200 || r.body != `"Hello from AWS!"` {
		t.Fatalf("GET /hello: %d %s, want 200 \"Hello from AWS!\"", r.status, r.body)
	}
	for k, want := range map[string]string{
		"Content-Type":                     "application/json",
		"Access-Control-Allow-Origin":      "*",
		"Access-Control-Allow-Methods":     "GET,OPTIONS",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("GET /hello: %s = %q, want %q (claudia's)", k, got, want)
		}
	}

	// The chapter's second handler returns the request.
	r = s.do("GET", "/echo/42?name=Ada&tag=x", "", "X-Custom: yes", "User-Agent: chapter-test")
	if r.status != 200 {
		t.Fatalf("GET /echo/42: %d %s", r.status, r.body)
	}
	var req struct {
		V                 int               `json:"v"`
		PathParams        map[string]string `json:"pathParams"`
		QueryString       map[string]string `json:"queryString"`
		Headers           map[string]string `json:"headers"`
		NormalizedHeaders map[string]string `json:"normalizedHeaders"`
		Env               map[string]string `json:"env"`
		Body              any               `json:"body"`
		Context           struct {
			Method, Path, Stage, SourceIP, UserAgent string
		} `json:"context"`
		LambdaContext struct {
			AwsRequestID, FunctionName, FunctionVersion, InvokedFunctionArn string
			MemoryLimitInMB                                                 any
		} `json:"lambdaContext"`
		ProxyRequest map[string]any `json:"proxyRequest"`
	}
	if err := json.Unmarshal([]byte(r.body), &req); err != nil {
		t.Fatalf("GET /echo/42: %v in %s", err, r.body)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"v", req.V, 3},
		{"pathParams", req.PathParams, map[string]string{"id": "42"}},
		{"queryString", req.QueryString, map[string]string{"name": "Ada", "tag": "x"}},
		{"headers X-Custom", req.Headers["X-Custom"], "yes"},
		{"normalizedHeaders x-custom", req.NormalizedHeaders["x-custom"], "yes"},
		{"env (stage variables)", req.Env, map[string]string{}},
		{"context.method", req.Context.Method, "GET"},
		{"context.path", req.Context.Path, "/echo/{id}"},
		{"context.stage", req.Context.Stage, "latest"},
		{"context.sourceIp", req.Context.SourceIP, "127.0.0.1"},
		{"context.userAgent", req.Context.UserAgent, "chapter-test"},
		{"lambdaContext.functionName", req.LambdaContext.FunctionName, "claudia"},
		{"proxyRequest.resource", req.ProxyRequest["resource"], "/echo/{id}"},
		{"proxyRequest.path", req.ProxyRequest["path"], "/echo/42"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("the request claudia gave the handler: %s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if req.LambdaContext.AwsRequestID == "" {
		t.Errorf("lambdaContext has no awsRequestId: %s", r.body)
	}

	// A POST with a JSON body: claudia parses it.
	r = s.do("POST", "/echo/7", `{"x":1,"y":["a"]}`, "Content-Type: application/json")
	var post struct {
		Body    map[string]any `json:"body"`
		RawBody string         `json:"rawBody"`
		Context struct{ Method string }
	}
	if err := json.Unmarshal([]byte(r.body), &post); err != nil || r.status != 200 {
		t.Fatalf("POST /echo/7: %d %s (%v)", r.status, r.body, err)
	}
	if !reflect.DeepEqual(post.Body, map[string]any{"x": 1.0, "y": []any{"a"}}) || post.RawBody != `{"x":1,"y":["a"]}` || post.Context.Method != "POST" {
		t.Errorf("POST /echo/7: body %v, rawBody %q, method %q", post.Body, post.RawBody, post.Context.Method)
	}
	r = s.do("POST", "/items", `{"name":"a"}`, "Content-Type: application/json")
	if r.status != 201 || r.body != `{"created":{"name":"a"}}` {
		t.Errorf("POST /items: %d %s, want 201 {\"created\":{\"name\":\"a\"}}", r.status, r.body)
	}

	// An {id} route.
	if r := s.do("GET", "/users/9", ""); r.status != 200 || r.body != `{"id":"9"}` {
		t.Errorf("GET /users/9: %d %s", r.status, r.body)
	}

	// CORS: the app answers OPTIONS itself, as behind API Gateway.
	r = s.do("OPTIONS", "/hello", "", "Origin: https://site.example", "Access-Control-Request-Method: GET")
	if r.status != 200 || r.body != "" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("OPTIONS /hello: %d %q (Allow-Origin %q), want 200, empty, *", r.status, r.body, r.header.Get("Access-Control-Allow-Origin"))
	}

	// A handler that throws: claudia's 500 passes through.
	if r := s.do("GET", "/fail", ""); r.status != 500 || !strings.Contains(r.body, "it broke") {
		t.Errorf("GET /fail: %d %s, want 500 with claudia's errorMessage", r.status, r.body)
	}

	// A path no route has: the gateway's 404.
	r = s.do("GET", "/nope", "")
	if r.status != 404 || !strings.Contains(r.body, `"message":"Not Found"`) {
		t.Errorf("GET /nope: %d %s, want the gateway's 404", r.status, r.body)
	}
	// A route the gateway has but the app does not: claudia fails the
	// invocation ("no handler for GET /extra"), API Gateway's 502.
	if r := s.do("PUT", "/_stoa/api/v1/routes/GET%20%2Fextra", `{"function":"claudia"}`, "Authorization: Bearer "+s.token); r.status != 201 {
		t.Fatalf("adding GET /extra: %d %s", r.status, r.body)
	}
	r = s.do("GET", "/extra", "")
	if r.status != 502 || !strings.Contains(r.body, `"message":"Internal server error"`) {
		t.Errorf("GET /extra (a route the app does not have): %d %s, want 502 Internal server error", r.status, r.body)
	}
}

// TestClaudiaScale is the chapter's scale check for real: three workers,
// 300 requests with 10 in flight to one route (ab -n 300 -c 10), every one
// answered, and the replies show they came from three environments, one
// per worker (the function's concurrency is 1, so a worker runs one).
func TestClaudiaScale(t *testing.T) {
	skipIfCannot(t)
	s := newSystem(t)
	for i := range 3 {
		s.startWorker(fmt.Sprintf("worker-%d", i+1), i+1)
	}
	s.deploy("scaled", func(c *fn.Config) { c.Concurrency = 1 })

	const total, inFlight = 300, 10
	envs := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int, total)
	for i := range total {
		next <- i
	}
	close(next)
	errs := make(chan error, total)
	for range inFlight {
		wg.Go(func() {
			for range next {
				r, err := request(context.Background(), "GET", s.url+"/who", "")
				if err == nil && r.status != 200 {
					err = fmt.Errorf("GET /who: %d %s", r.status, r.body)
				}
				if err != nil {
					errs <- err
					continue
				}
				var who struct{ Env string }
				if err := json.Unmarshal([]byte(r.body), &who); err != nil || who.Env == "" {
					errs <- fmt.Errorf("GET /who: %s", r.body)
					continue
				}
				mu.Lock()
				envs[who.Env]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 3 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, total)
	}
	t.Logf("replies per environment: %v", envs)
	if len(envs) != 3 {
		t.Errorf("replies came from %d environments, want 3 (one per worker): %v", len(envs), envs)
	}
}
