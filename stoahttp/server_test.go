package stoahttp_test

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/stoahttp"
)

// testEngine has the patterns of the listener tests, the Go twins of the
// Seneca listener the wire captures were made with.
func testEngine(t testing.TB) *stoa.Engine {
	t.Helper()
	e := stoa.New(stoa.WithTimeout(5 * time.Second))
	t.Cleanup(func() { e.Close(context.Background()) })
	adds := []struct {
		pattern string
		h       stoa.Handler
	}{
		{"role:hello,cmd:sayHello", func(_ context.Context, m stoa.Msg) (any, error) {
			name, _ := m["name"].(string)
			if name == "" {
				name = "World"
			}
			return map[string]any{"message": "Hello " + name}, nil
		}},
		{"role:test,cmd:echo", func(_ context.Context, m stoa.Msg) (any, error) {
			return map[string]any{"seen": m}, nil
		}},
		{"role:test,cmd:meta", func(ctx context.Context, m stoa.Msg) (any, error) {
			return stoa.ContextMeta(ctx), nil
		}},
		{"role:test,cmd:fail", func(context.Context, stoa.Msg) (any, error) {
			return nil, errors.New("handler failed")
		}},
		{"role:test,cmd:forbidden", func(context.Context, stoa.Msg) (any, error) {
			return nil, &stoa.Error{Code: "forbidden_thing", Message: "not allowed", Details: map[string]any{"statusCode": 403}}
		}},
		{"role:test,cmd:string", func(context.Context, stoa.Msg) (any, error) { return "just a string", nil }},
		{"role:test,cmd:array", func(context.Context, stoa.Msg) (any, error) { return []int{1, 2, 3}, nil }},
		{"role:test,cmd:empty", func(context.Context, stoa.Msg) (any, error) { return nil, nil }},
		{"role:test,cmd:slow", func(ctx context.Context, _ stoa.Msg) (any, error) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return map[string]any{"slow": true}, nil
			}
		}},
		{"role:seneca,cmd:ping", func(context.Context, stoa.Msg) (any, error) {
			return map[string]any{"pong": true}, nil
		}},
	}
	for _, a := range adds {
		if err := e.Add(a.pattern, a.h); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// send makes one request with the default client.
func send(t testing.TB, method, url, body string, header map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// errorCode reads the code of a Seneca error reply.
func errorCode(b []byte) string {
	var e struct{ Code string }
	json.Unmarshal(b, &e)
	return e.Code
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestListenerRequests covers what a caller can send to /act, as
// seneca-transport answers it (wire/20-curl.txt) except where the issue
// asks for a clear 4xx instead of Seneca's 500 or its crash.
func TestListenerRequests(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, &stoahttp.Server{MaxBodyBytes: 1000, MaxDepth: 8})
	deep := strings.Repeat("[", 9) + strings.Repeat("]", 9)
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		want                     string // the reply's JSON, or
		code                     string // the error code it must have
	}{
		{name: "POST", method: "POST", path: "/act", body: `{"role":"hello","cmd":"sayHello"}`, status: 200, want: `{"message":"Hello World"}`},
		{name: "GET with query", method: "GET", path: "/act?role=hello&cmd=sayHello&name=Q", status: 200, want: `{"message":"Hello Q"}`},
		{name: "msg$ in the query", method: "GET", path: "/act?msg$=role:hello,cmd:sayHello,name:J", status: 200, want: `{"message":"Hello J"}`},
		{name: "query beats msg$", method: "GET", path: "/act?msg$=role:hello,cmd:sayHello,name:J&name=K", status: 200, want: `{"message":"Hello K"}`},
		{name: "msg$ beats body", method: "POST", path: "/act?msg$=name:Q", body: `{"role":"hello","cmd":"sayHello","name":"B"}`, status: 200, want: `{"message":"Hello Q"}`},
		{name: "query beats body", method: "POST", path: "/act?name=Query", body: `{"role":"hello","cmd":"sayHello","name":"Body"}`, status: 200, want: `{"message":"Hello Query"}`},
		{name: "PUT", method: "PUT", path: "/act", body: `{"role":"hello","cmd":"sayHello"}`, status: 200, want: `{"message":"Hello World"}`},
		{name: "DELETE", method: "DELETE", path: "/act?role=hello&cmd=sayHello", status: 200, want: `{"message":"Hello World"}`},
		{name: "content type ignored", method: "POST", path: "/act", body: `{"role":"hello","cmd":"sayHello"}`, header: map[string]string{"Content-Type": "text/plain"}, status: 200, want: `{"message":"Hello World"}`},
		{name: "query values stay strings", method: "GET", path: "/act?role=test&cmd=echo&x=1&y=true&a=1&a=2&o[p]=3&l[]=4", status: 200,
			want: `{"seen":{"role":"test","cmd":"echo","x":"1","y":"true","a":["1","2"],"o":{"p":"3"},"l":["4"]}}`},
		{name: "array body", method: "POST", path: "/act?role=test&cmd=echo", body: `[1,{"a":2}]`, status: 200, want: `{"seen":{"0":1,"1":{"a":2},"role":"test","cmd":"echo"}}`},
		{name: "empty body is {}", method: "POST", path: "/act", status: 500, code: stoa.CodeNotFound},
		{name: "default$", method: "POST", path: "/act", body: `{"role":"nope","default$":{"x":1}}`, status: 200, want: `{"x":1}`},
		{name: "array result", method: "POST", path: "/act", body: `{"role":"test","cmd":"array"}`, status: 200, want: `[1,2,3]`},
		{name: "no result", method: "POST", path: "/act", body: `{"role":"test","cmd":"empty"}`, status: 200, want: `null`},
		{name: "not found", method: "POST", path: "/act", body: `{"role":"hello","cmd":"nope"}`, status: 500, code: stoa.CodeNotFound},
		{name: "handler error", method: "POST", path: "/act", body: `{"role":"test","cmd":"fail"}`, status: 500, code: stoa.CodeExecute},
		{name: "error with a status", method: "POST", path: "/act", body: `{"role":"test","cmd":"forbidden"}`, status: 403, code: "forbidden_thing"},
		{name: "string result", method: "POST", path: "/act", body: `{"role":"test","cmd":"string"}`, status: 500, code: stoa.CodeResult},
		{name: "timeout$", method: "POST", path: "/act", body: `{"role":"test","cmd":"slow","timeout$":50}`, status: 500, code: stoa.CodeTimeout},
		{name: "malformed JSON", method: "POST", path: "/act", body: `{"role":"hello",`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "jsonic body", method: "POST", path: "/act", body: `role:hello,cmd:sayHello`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "whitespace body", method: "POST", path: "/act", body: "  \n", status: 400, code: stoa.CodeInvalidJSON},
		{name: "number body", method: "POST", path: "/act", body: `5`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "string body", method: "POST", path: "/act", body: `"x"`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "null body", method: "POST", path: "/act", body: `null`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "trailing garbage", method: "POST", path: "/act", body: `{"role":"hello"} x`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "too deep", method: "POST", path: "/act", body: `{"a":` + deep + `}`, status: 400, code: stoa.CodeInvalidJSON},
		{name: "deep enough", method: "POST", path: "/act", body: `{"role":"test","cmd":"echo","a":[[[[[[1]]]]]]}`, status: 200, want: `{"seen":{"role":"test","cmd":"echo","a":[[[[[[1]]]]]]}}`},
		{name: "too deep in msg$", method: "GET", path: "/act?msg$=a:{b:{c:{d:{e:{f:{g:{h:{i:1}}}}}}}}", status: 400, code: stoa.CodeInvalidJSON},
		{name: "too large", method: "POST", path: "/act", body: `{"a":"` + strings.Repeat("x", 1000) + `"}`, status: 413, code: stoahttp.CodeTooLarge},
		{name: "msg$ that does not parse", method: "GET", path: "/act?msg$=bad:a%20b", status: 400, code: stoa.CodeMsgSyntax},
		{name: "msg$ twice", method: "GET", path: "/act?msg$=a:1&msg$=b:2", status: 400, code: stoa.CodeMsgSyntax},
		{name: "system role", method: "POST", path: "/act", body: `{"role":"seneca","cmd":"ping"}`, status: 403, code: stoahttp.CodeNotAllowed},
		{name: "system role in an array", method: "POST", path: "/act", body: `{"role":["seneca"],"cmd":"ping"}`, status: 403, code: stoahttp.CodeNotAllowed},
		{name: "system role in the query", method: "GET", path: "/act?role=seneca&cmd=close", status: 403, code: stoahttp.CodeNotAllowed},
		{name: "system role in msg$", method: "GET", path: "/act?msg$=role:transport,cmd:listen", status: 403, code: stoahttp.CodeNotAllowed},
		{name: "sys key", method: "POST", path: "/act", body: `{"sys":"seneca"}`, status: 403, code: stoahttp.CodeNotAllowed},
		{name: "fatal$ removed", method: "POST", path: "/act", body: `{"role":"test","cmd":"echo","fatal$":true}`, status: 200, want: `{"seen":{"role":"test","cmd":"echo"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, base+tc.path, tc.body, tc.header)
			if r.status != tc.status {
				t.Errorf("%s %s %s: status %d (%s), want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			}
			if tc.want != "" && !sameJSON(r.body, []byte(tc.want)) {
				t.Errorf("%s %s %s: reply %s, want %s", tc.method, tc.path, tc.body, r.body, tc.want)
			}
			if tc.code != "" {
				if got := errorCode(r.body); got != tc.code {
					t.Errorf("%s %s %s: error code %q (%s), want %q", tc.method, tc.path, tc.body, got, r.body, tc.code)
				}
				var se stoa.Error
				if err := json.Unmarshal(r.body, &se); err != nil || se.Message == "" {
					t.Errorf("reply %s is not a Seneca error with a message: %v", r.body, err)
				}
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
		})
	}
}

// TestListenerBodyLimits checks the default limit and a body sent without
// Content-Length (chunked), which cannot be refused before it is read.
func TestListenerBodyLimits(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, nil)
	big := `{"role":"hello","cmd":"sayHello","pad":"` + strings.Repeat("x", stoahttp.DefaultMaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name    string
		body    io.Reader
		length  int64
		status  int
		wantErr string
	}{
		{"under the default limit", strings.NewReader(big[:stoahttp.DefaultMaxBodyBytes-2] + `"}`), -1, 200, ""},
		{"over, with Content-Length", strings.NewReader(big), int64(len(big)), 413, stoahttp.CodeTooLarge},
		{"over, chunked", io.MultiReader(strings.NewReader(big)), -1, 413, stoahttp.CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/act", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.length
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d (%.200s), want %d", resp.StatusCode, b, tc.status)
			}
			if tc.wantErr != "" && errorCode(b) != tc.wantErr {
				t.Errorf("code %q, want %q", errorCode(b), tc.wantErr)
			}
		})
	}
}

// TestListenerHeaderLimit: request line and headers up to 16 KB are
// read, as a Seneca listener (Node) reads them; more gets 431.
func TestListenerHeaderLimit(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, nil)
	for _, tc := range []struct {
		pad    int
		status int
	}{{12 << 10, 200}, {20 << 10, 431}} {
		r := send(t, "POST", base+"/act", `{"role":"hello","cmd":"sayHello"}`, map[string]string{"X-Pad": strings.Repeat("p", tc.pad)})
		if r.status != tc.status {
			t.Errorf("a %d-byte header: status %d, want %d", tc.pad, r.status, tc.status)
		}
	}
}

// TestListenerReplyHeaders sends the exact bytes a Seneca client sent in
// wire/01-success.raw.txt and checks every header of the reply, by its
// name as written on the wire.
func TestListenerReplyHeaders(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, nil)
	const body = `{"role":"hello","cmd":"sayHello","name":"Alice","custom$":{}}`
	request := "POST /act HTTP/1.1\r\n" +
		"Accept: application/json\r\n" +
		"Content-Type: application/json\r\n" +
		"seneca-id: g1l43tmiw424/i6ngpa3h735g\r\n" +
		"seneca-kind: req\r\n" +
		"seneca-origin: nuvxzfryane4/1795598426125/524/3.38.0/-\r\n" +
		`seneca-track: ["nuvxzfryane4/1795598426125/524/3.38.0/-"]` + "\r\n" +
		"seneca-time-client-sent: 1795598426173\r\n" +
		"host: " + strings.TrimPrefix(base, "http://") + "\r\n" +
		fmt.Sprintf("content-length: %d\r\n", len(body)) +
		"Connection: close\r\n\r\n" + body
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, got, _ := strings.Cut(string(raw), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if lines[0] != "HTTP/1.1 200 OK" {
		t.Fatalf("status line %q, want HTTP/1.1 200 OK", lines[0])
	}
	if got != `{"message":"Hello Alice"}` {
		t.Errorf("body %q, want {\"message\":\"Hello Alice\"}", got)
	}
	headers := map[string]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		headers[k] = v
	}
	for _, want := range []struct{ name, value string }{
		{"Content-Type", "application/json"},
		{"Cache-Control", "private, max-age=0, no-cache, no-store"},
		{"Content-Length", "25"},
		{"seneca-id", "g1l43tmiw424/i6ngpa3h735g"},
		{"seneca-kind", "res"},
		{"seneca-origin", "nuvxzfryane4/1795598426125/524/3.38.0/-"},
		{"seneca-accept", e.ID()},
		{"seneca-track", "nuvxzfryane4/1795598426125/524/3.38.0/-"},
		{"seneca-time-client-sent", "0"},
		{"seneca-time-listen-recv", "0"},
		{"seneca-time-listen-sent", "0"},
		{"Connection", "close"},
	} {
		if v, ok := headers[want.name]; !ok || v != want.value {
			t.Errorf("header %s = %q (present %v), want %q\n%s", want.name, v, ok, want.value, head)
		}
	}

	// A plain caller: seneca-origin is its User-Agent, seneca-id a fresh
	// id, seneca-track empty.
	r := send(t, "POST", base+"/act", `{"role":"hello","cmd":"sayHello"}`, map[string]string{"User-Agent": "curl/7.88.1"})
	if got := r.header.Get("seneca-origin"); got != "curl/7.88.1" {
		t.Errorf("seneca-origin = %q, want the User-Agent curl/7.88.1", got)
	}
	if got := r.header.Get("seneca-id"); got == "" {
		t.Error("seneca-id is empty for a caller that sent none")
	}
	if v, ok := r.header["Seneca-Track"]; !ok || len(v) != 1 || v[0] != "" {
		t.Errorf("seneca-track = %q, want one empty value", v)
	}
	if r := send(t, "GET", base+"/", "", nil); r.status != 404 || len(r.body) != 0 {
		t.Errorf("GET /: %v, want 404 and an empty body, as Seneca", r)
	}
}

// TestListenerMetadata checks that an act adopts the caller's ids and
// trace context, and that no transaction id passes from one request to
// another (Seneca's listener leaks the last one: wire/20-curl.txt).
func TestListenerMetadata(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, nil)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	meta := func(t *testing.T, header map[string]string) stoa.Meta {
		t.Helper()
		r := send(t, "POST", base+"/act", `{"role":"test","cmd":"meta"}`, header)
		var m stoa.Meta
		if err := json.Unmarshal(r.body, &m); err != nil || r.status != 200 {
			t.Fatalf("reply %v: %v", r, err)
		}
		return m
	}
	m := meta(t, map[string]string{"seneca-id": "mi1/tx1", "seneca-origin": "caller-1", "traceparent": tp, "tracestate": "k=v"})
	if want := (stoa.Meta{ID: "mi1", TxID: "tx1", Caller: "caller-1", TraceParent: tp, TraceState: "k=v"}); m != want {
		t.Errorf("meta = %+v, want %+v", m, want)
	}
	a := meta(t, nil)
	b := meta(t, nil)
	if a.TxID == "" || a.TxID == "tx1" || a.TxID == b.TxID || a.ID == b.ID {
		t.Errorf("two requests without seneca-id got meta %+v and %+v; want fresh, distinct ids", a, b)
	}

	// Concurrent requests each keep their own transaction.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			id := fmt.Sprintf("m%d/t%d", i, i)
			req, _ := http.NewRequest("POST", base+"/act", strings.NewReader(`{"role":"test","cmd":"meta"}`))
			req.Header.Set("seneca-id", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var m stoa.Meta
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				errs <- err
				return
			}
			if m.TxID != fmt.Sprintf("t%d", i) || resp.Header.Get("seneca-id") != id {
				errs <- fmt.Errorf("request %s: act tx %q, reply seneca-id %q", id, m.TxID, resp.Header.Get("seneca-id"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestListenerAllowSystem: an operator who opts in serves system
// messages and fatal$.
func TestListenerAllowSystem(t *testing.T) {
	e := testEngine(t)
	base := listen(t, e, &stoahttp.Server{AllowSystem: true})
	if r := send(t, "POST", base+"/act", `{"role":"seneca","cmd":"ping"}`, nil); r.status != 200 || !sameJSON(r.body, []byte(`{"pong":true}`)) {
		t.Errorf("role:seneca,cmd:ping with AllowSystem: %v, want 200 {\"pong\":true}", r)
	}
	if r := send(t, "POST", base+"/act", `{"role":"test","cmd":"echo","fatal$":true}`, nil); !strings.Contains(string(r.body), `"fatal$":true`) {
		t.Errorf("fatal$ with AllowSystem: %v, want it to reach the handler", r)
	}
}

// TestListenerNoHostPaths: no error reply carries a file path of the host,
// whether it comes from a handler's error, a panic or a Seneca peer's
// stack line passed on by a client.
func TestListenerNoHostPaths(t *testing.T) {
	e := stoa.New()
	t.Cleanup(func() { e.Close(context.Background()) })
	dir := t.TempDir()
	wd, _ := os.Getwd()
	e.Add("role:paths,cmd:open", func(context.Context, stoa.Msg) (any, error) {
		_, err := os.Open(filepath.Join(dir, "missing.json"))
		return nil, fmt.Errorf("loading config: %w", err)
	})
	e.Add("role:paths,cmd:panic", func(_ context.Context, m stoa.Msg) (any, error) {
		var s []int
		return s[len(m)], nil // a runtime panic, whose stack has paths
	})
	e.Add("role:paths,cmd:peer", func(context.Context, stoa.Msg) (any, error) {
		return nil, &stoa.Error{Code: stoa.CodeExecute, Message: "action failed: handler failed", Details: map[string]any{
			"errline": "at Seneca.<anonymous> (/srv/app/listener.js:17:9)",
			"message": "handler failed at /srv/app/listener.js",
		}}
	})
	base := listen(t, e, nil)
	for _, cmd := range []string{"open", "panic", "peer"} {
		r := send(t, "POST", base+"/act", `{"role":"paths","cmd":"`+cmd+`"}`, nil)
		if r.status != 500 {
			t.Errorf("cmd:%s: status %d, want 500", cmd, r.status)
		}
		for _, p := range []string{dir, wd, "/srv/app", ".go:", ".js:"} {
			if p != "" && strings.Contains(string(r.body), p) {
				t.Errorf("cmd:%s: reply carries %q: %s", cmd, p, r.body)
			}
		}
	}
	r := send(t, "POST", base+"/act", `{"role":"paths","cmd":"open"}`, nil)
	if !strings.Contains(string(r.body), "[path]") || !strings.Contains(string(r.body), "no such file") {
		t.Errorf("reply %s: want the error's text with the path replaced by [path]", r.body)
	}
}

// TestListenerHealthAndMetrics checks /healthz and /metrics, and turning
// them off.
func TestListenerHealthAndMetrics(t *testing.T) {
	e := testEngine(t)
	srv := &stoahttp.Server{}
	base := listen(t, e, srv)
	if r := send(t, "GET", base+"/healthz", "", nil); r.status != 200 || !sameJSON(r.body, []byte(`{"status":"ok"}`)) {
		t.Errorf("GET /healthz: %v, want 200 {\"status\":\"ok\"}", r)
	}
	send(t, "POST", base+"/act", `{"role":"hello","cmd":"sayHello"}`, nil)
	send(t, "POST", base+"/act", `{"role":"hello","cmd":"sayHello"}`, nil)
	send(t, "POST", base+"/act", `{"role":"hello","cmd":"sayHello","name":"\"Q\""}`, nil) // decoded by the listener first
	send(t, "POST", base+"/act?name=Q", `{"role":"hello","cmd":"sayHello"}`, nil)
	send(t, "POST", base+"/act", `{"role":"nope","default$":{"x":1}}`, nil)
	send(t, "POST", base+"/act", `{"role":"test","cmd":"fail"}`, nil)
	send(t, "POST", base+"/act", `{"role":"nope"}`, nil)
	send(t, "POST", base+"/act", `{`, nil)
	r := send(t, "GET", base+"/metrics", "", nil)
	for _, want := range []string{
		`stoa_http_acts_total{outcome="ok",pattern="cmd:sayHello,role:hello"} 4`,
		`stoa_http_acts_total{outcome="ok",pattern="(none)"} 1`,
		`stoa_http_acts_total{outcome="act_execute",pattern="cmd:fail,role:test"} 1`,
		`stoa_http_acts_total{outcome="act_not_found",pattern="(none)"} 1`,
		`stoa_http_acts_total{outcome="invalid_json",pattern="(none)"} 1`,
		`stoa_http_act_duration_seconds_bucket{pattern="cmd:sayHello,role:hello",le="+Inf"} 4`,
		`stoa_http_act_duration_seconds_count{pattern="cmd:fail,role:test"} 1`,
		`stoa_http_acts_in_flight 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", r.body)
	}

	off := listen(t, e, &stoahttp.Server{DisableMetrics: true, DisableHealthz: true})
	for _, p := range []string{"/metrics", "/healthz"} {
		if r := send(t, "GET", off+p, "", nil); r.status != 404 {
			t.Errorf("GET %s when disabled: status %d, want 404", p, r.status)
		}
	}

	// Once Close has begun, /healthz says so.
	if err := srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 {
		t.Errorf("GET /healthz after Close: status %d, want 503", rec.Code)
	}
}

// TestListenerTimeouts: a client that sends its headers or body too
// slowly, or keeps a connection idle, is cut off; an act slower than
// ReadTimeout still gets its reply.
func TestListenerTimeouts(t *testing.T) {
	e := testEngine(t)
	e.Add("role:test,cmd:long", func(ctx context.Context, _ stoa.Msg) (any, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(600 * time.Millisecond): // three ReadTimeouts
			return map[string]any{"long": true}, nil
		}
	})
	const d = 200 * time.Millisecond
	base := listen(t, e, &stoahttp.Server{ReadHeaderTimeout: d, ReadTimeout: d, IdleTimeout: d})
	addr := strings.TrimPrefix(base, "http://")

	// closedWithin dials, writes, and reports how long the server took to
	// end the connection (reading anything it answers first).
	closedWithin := func(t *testing.T, write string) time.Duration {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if write != "" {
			if _, err := io.WriteString(conn, write); err != nil {
				t.Fatal(err)
			}
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, conn)
		return time.Since(start)
	}
	for _, tc := range []struct{ name, write string }{
		{"headers never end", "POST /act HTTP/1.1\r\nHost: x\r\n"},
		{"body never ends", "POST /act HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"role\":"},
		{"nothing sent", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := closedWithin(t, tc.write); got > 5*time.Second {
				t.Errorf("connection open for %v, want it closed after about %v", got, d)
			}
		})
	}
	t.Run("idle keep-alive connection", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /act HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n{\"role\":\"hello\",\"cmd\":\"sayHello\"}")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("idle connection: read %v, want EOF", err)
		}
		if got := time.Since(start); got > 5*time.Second {
			t.Errorf("idle connection closed after %v, want about %v", got, d)
		}
	})
	t.Run("act longer than ReadTimeout", func(t *testing.T) {
		r := send(t, "POST", base+"/act", `{"role":"test","cmd":"long"}`, nil)
		if r.status != 200 || !sameJSON(r.body, []byte(`{"long":true}`)) {
			t.Errorf("reply %v, want 200 {\"long\":true}", r)
		}
	})
}

// TestListenerWriteTimeout: a caller that does not read its reply holds
// the connection no longer than WriteTimeout.
func TestListenerWriteTimeout(t *testing.T) {
	e := stoa.New()
	t.Cleanup(func() { e.Close(context.Background()) })
	big := json.RawMessage(`["` + strings.Repeat("x", 64<<20) + `"]`)
	e.Add("role:big", func(context.Context, stoa.Msg) (any, error) { return big, nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	serveOn(t, e, &stoahttp.Server{WriteTimeout: 200 * time.Millisecond}, cl)
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const body = `{"role":"big"}`
	fmt.Fprintf(conn, "POST /act HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Read nothing: the server's write blocks once the socket buffers fill.
	if !waitFor(10*time.Second, func() bool { return cl.accepted.Load() == 1 && cl.open.Load() == 0 }) {
		t.Errorf("server still holds the connection of a caller that reads nothing (open: %d)", cl.open.Load())
	}
}
