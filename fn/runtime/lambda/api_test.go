package lambda

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// bareEnv is an Env without a process, to drive its Runtime API directly.
func bareEnv(t testing.TB) *Env {
	t.Helper()
	cfg, err := Config{Bundle: echoBundle}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		cfg: cfg, ready: make(chan struct{}), initFailed: make(chan struct{}), served: make(chan struct{}),
		closing: make(chan struct{}), deadCh: make(chan struct{}), answeredIDs: map[string]bool{}, spawned: time.Now(),
		conns: map[*apiConn]bool{},
	}
	e.parkedCond = sync.NewCond(&e.mu)
	return e
}

// apiServer serves e's Runtime API on loopback for a test, as start does.
type apiServer struct {
	URL    string
	client *http.Client
}

func (s *apiServer) Client() *http.Client { return s.client }

func serveBare(t testing.TB, e *Env) *apiServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.ln = ln
	go e.serve(ln)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ln.Close()
		<-e.served
		e.closeConns()
	})
	return &apiServer{URL: "http://" + ln.Addr().String(), client: &http.Client{Transport: tr}}
}

// queueTest makes an invocation the environment's current one, as Invoke does.
func (e *Env) queueTest(id string, payload string) *invocation {
	inv := &invocation{id: id, arn: "arn:test", traceID: "Root=1-test", payload: []byte(payload),
		deadline: time.Now().Add(time.Minute), done: make(chan struct{}), releasedCh: make(chan struct{})}
	e.mu.Lock()
	e.cur = inv
	e.mu.Unlock()
	e.offer()
	return inv
}

func TestParseAPIPath(t *testing.T) {
	for _, c := range []struct {
		path string
		call apiCall
		id   string
	}{
		{"/2018-06-01/runtime/invocation/next", callNext, ""},
		{"/2018-06-01/runtime/init/error", callInitError, ""},
		{"/2018-06-01/runtime/invocation/abc-123/response", callResponse, "abc-123"},
		{"/2018-06-01/runtime/invocation/abc-123/error", callError, "abc-123"},
		{"/2018-06-01/runtime/invocation//response", callNone, ""},
		{"/2018-06-01/runtime/invocation/a/b/response", callNone, ""},
		{"/2018-06-01/runtime/invocation/abc/respons", callNone, ""},
		{"/2018-06-01/runtime/invocation/next/", callNone, ""},
		{"/2020-01-01/extension/register", callNone, ""},
		{"", callNone, ""},
	} {
		call, id := parseAPIPath(c.path)
		if call != c.call || id != c.id {
			t.Errorf("parseAPIPath(%q) = %v, %q; want %v, %q", c.path, call, id, c.call, c.id)
		}
	}
}

func do(t *testing.T, srv *apiServer, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestRuntimeAPIProtocol(t *testing.T) {
	e := bareEnv(t)
	srv := serveBare(t, e)
	const base = "/2018-06-01/runtime"

	if st, body, _ := do(t, srv, "POST", base+"/invocation/nobody/response", "x"); st != 400 || !strings.Contains(body, "InvalidRequestID") {
		t.Errorf("unknown id: %d %s", st, body)
	}
	inv := e.queueTest("id-1", `{"a":1}`)
	st, body, h := do(t, srv, "GET", base+"/invocation/next", "")
	if st != 200 || body != `{"a":1}` || h.Get(hdrRequestID) != "id-1" || h.Get(hdrFunctionARN) != "arn:test" ||
		h.Get(hdrTraceID) != "Root=1-test" || h.Get(hdrDeadline) == "" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("next: %d %s %v", st, body, h)
	}
	select {
	case <-e.ready:
	default:
		t.Error("first next did not mark the runtime ready")
	}
	if _, body, h := do(t, srv, "GET", base+"/invocation/next", ""); body != `{"a":1}` || h.Get(hdrRequestID) != "id-1" {
		t.Errorf("second next while open: %s %v; want the same invocation again", body, h)
	}
	if st, body, _ := do(t, srv, "POST", base+"/invocation/id-1/response", `{"ok":true}`); st != 202 || body != "{\"status\":\"OK\"}\n" {
		t.Errorf("response: %d %q", st, body)
	}
	<-inv.done
	if string(inv.body) != `{"ok":true}` || inv.isErr {
		t.Errorf("answer recorded as %q (error %v)", inv.body, inv.isErr)
	}
	for _, op := range []string{"response", "error"} {
		if st, body, _ := do(t, srv, "POST", base+"/invocation/id-1/"+op, "again"); st != 403 || !strings.Contains(body, "InvalidStateTransition") {
			t.Errorf("second %s: %d %s", op, st, body)
		}
	}
	if st, _, _ := do(t, srv, "GET", base+"/invocation/id-1/response", ""); st != 405 {
		t.Errorf("GET on response: %d", st)
	}
	if st, _, _ := do(t, srv, "POST", "/2020-01-01/extension/register", "{}"); st != 404 {
		t.Errorf("extensions API: %d", st)
	}

	// An error with a non-JSON body is accepted; its type comes from the header.
	inv = e.queueTest("id-2", `{}`)
	do(t, srv, "GET", base+"/invocation/next", "")
	req, _ := http.NewRequest("POST", srv.URL+base+"/invocation/id-2/error", strings.NewReader("plain text"))
	req.Header.Set(hdrErrorType, "Custom.Type")
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("error post: %v %v", resp, err)
	}
	<-inv.done
	if string(inv.body) != "plain text" || !inv.isErr || inv.errType != "Custom.Type" {
		t.Errorf("error recorded as %q %v %q", inv.body, inv.isErr, inv.errType)
	}

	// aws-lambda-go streams chunked bodies and declares a failure in trailers.
	inv = e.queueTest("id-3", `{}`)
	do(t, srv, "GET", base+"/invocation/next", "")
	pr, pw := io.Pipe()
	req, _ = http.NewRequest("POST", srv.URL+base+"/invocation/id-3/response", pr)
	req.Trailer = http.Header{hdrErrorType: nil, trlErrorBody: nil}
	go func() {
		pw.Write([]byte("partial"))
		req.Trailer.Set(hdrErrorType, "errorString")
		req.Trailer.Set(trlErrorBody, base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"errorString"}`)))
		pw.Close()
	}()
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("chunked post: %v %v", resp, err)
	}
	<-inv.done
	if !inv.isErr || inv.errType != "errorString" || !bytes.Contains(inv.body, []byte("stream broke")) {
		t.Errorf("trailer error recorded as %q %v %q", inv.body, inv.isErr, inv.errType)
	}

	// Over the response cap: 413 to the runtime.
	e.cfg.MaxResponseBytes = 10
	inv = e.queueTest("id-4", `{}`)
	do(t, srv, "GET", base+"/invocation/next", "")
	if st, body, _ := do(t, srv, "POST", base+"/invocation/id-4/response", strings.Repeat("x", 11)); st != 413 || !strings.Contains(body, "RequestEntityTooLarge") {
		t.Errorf("oversized response: %d %s", st, body)
	}
	<-inv.done
	if !inv.tooLarge {
		t.Error("oversized response not recorded")
	}
}

func TestRuntimeAPIInitError(t *testing.T) {
	e := bareEnv(t)
	srv := serveBare(t, e)
	const base = "/2018-06-01/runtime"
	req, _ := http.NewRequest("POST", srv.URL+base+"/init/error", strings.NewReader(`{"errorMessage":"bad","errorType":"Runtime.ImportModuleError"}`))
	req.Header.Set(hdrErrorType, "Runtime.ImportModuleError")
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("init/error: %v %v", resp, err)
	}
	<-e.initFailed
	if e.initErrType != "Runtime.ImportModuleError" {
		t.Errorf("init error type %q", e.initErrType)
	}
	if st, _, _ := do(t, srv, "GET", base+"/invocation/next", ""); st != 403 {
		t.Errorf("next after init error: %d, want 403", st)
	}
	if st, _, _ := do(t, srv, "POST", base+"/init/error", "{}"); st != 403 {
		t.Errorf("second init/error: %d, want 403", st)
	}
}

func FuzzParseAPIPath(f *testing.F) {
	for _, s := range []string{"/2018-06-01/runtime/invocation/next", "/2018-06-01/runtime/init/error",
		"/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response",
		"/2018-06-01/runtime/invocation/x/error", "/2018-06-01/runtime/invocation//error", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		call, id := parseAPIPath(path)
		switch call {
		case callResponse, callError:
			if id == "" || strings.Contains(id, "/") || len(id) > 128 {
				t.Fatalf("parseAPIPath(%q) id %q", path, id)
			}
			op := "response"
			if call == callError {
				op = "error"
			}
			if again, id2 := parseAPIPath(apiBase + "invocation/" + id + "/" + op); again != call || id2 != id || path != apiBase+"invocation/"+id+"/"+op {
				t.Fatalf("parseAPIPath(%q) = %v %q, does not round-trip", path, call, id)
			}
		case callNext, callInitError:
			if id != "" {
				t.Fatalf("parseAPIPath(%q) = %v with id %q", path, call, id)
			}
		case callNone:
		default:
			t.Fatalf("parseAPIPath(%q) = %v", path, call)
		}
	})
}

func FuzzErrorTypeOf(f *testing.F) {
	for _, s := range []string{`{"errorType":"CustomError","errorMessage":"x"}`, `{"errorType":5}`, `plain`, ``, `{"errorType":"a\u0000b\nc"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		typ := errorTypeOf(body)
		if len(typ) > 256 || strings.ContainsAny(typ, "\x00\r\n\x7f") {
			t.Fatalf("errorTypeOf(%q) = %q", body, typ)
		}
	})
}

// FuzzRuntimeAPI sends arbitrary requests, as a hostile function could, to
// an environment with one invocation open: the server answers each with a
// Runtime API status and never records an answer for another id.
func FuzzRuntimeAPI(f *testing.F) {
	f.Add("POST", "/2018-06-01/runtime/invocation/open/response", []byte(`{"ok":1}`), "")
	f.Add("POST", "/2018-06-01/runtime/invocation/open/error", []byte(`{"errorType":"E"}`), "T")
	f.Add("POST", "/2018-06-01/runtime/invocation/other/response", []byte(`x`), "")
	f.Add("GET", "/2018-06-01/runtime/invocation/next", []byte(nil), "")
	f.Add("POST", "/2018-06-01/runtime/init/error", []byte(`{}`), "Runtime.X")
	f.Add("PUT", "/2018-06-01/runtime/invocation/open/response", []byte(`{}`), "")
	f.Fuzz(func(t *testing.T, method, path string, body []byte, errType string) {
		e := bareEnv(t)
		e.cfg.MaxResponseBytes = 64
		inv := e.queueTest("open", `{}`)
		inv.delivered = true
		req, err := http.NewRequest(method, "http://runtime"+path, bytes.NewReader(body))
		if err != nil || req.URL.Path != path || strings.ContainsFunc(errType, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			t.Skip("not a request a client can send")
		}
		req.Header.Set(hdrErrorType, errType)
		cli, srv := net.Pipe()
		ac := &apiConn{c: srv}
		e.conns[ac] = true
		e.connWG.Add(1)
		go e.serveConn(ac)
		defer func() {
			cli.Close()
			e.closeConns()
		}()
		go req.Write(cli)
		resp, err := http.ReadResponse(bufio.NewReader(cli), req)
		if err != nil {
			t.Fatalf("%s %q: %v", method, path, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200, 202, 400, 403, 404, 405, 410, 413:
		default:
			t.Fatalf("%s %q: status %d", method, path, resp.StatusCode)
		}
		call, id := parseAPIPath(path)
		if inv.answered && !(id == "open" && (call == callResponse || call == callError)) {
			t.Fatalf("%s %q answered the open invocation", method, path)
		}
		if inv.answered && len(inv.body) > 64 {
			t.Fatalf("recorded %d bytes over a 64-byte cap", len(inv.body))
		}
	})
}

// TestRuntimeAPIConnectionClose sends "next" with Connection: close while
// nothing is queued: it still gets the invocation when one comes.
func TestRuntimeAPIConnectionClose(t *testing.T) {
	e := bareEnv(t)
	srv := serveBare(t, e)
	got := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", srv.URL+"/2018-06-01/runtime/invocation/next", nil)
		req.Close = true
		resp, err := srv.Client().Do(req)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- resp.Header.Get(hdrRequestID) + " " + string(b)
	}()
	parked := make(chan struct{})
	go func() {
		e.waitParked()
		close(parked)
	}()
	select {
	case <-parked:
	case s := <-got:
		t.Fatalf("next with Connection: close ended before any invocation: %q", s)
	}
	e.queueTest("id-c", `{"c":1}`)
	if s := <-got; s != `id-c {"c":1}` {
		t.Errorf("next with Connection: close got %q, want the invocation", s)
	}
}

// TestRuntimeAPIExpectContinue answers a client that waits for "100
// Continue" before it sends a body, as curl does for large ones.
func TestRuntimeAPIExpectContinue(t *testing.T) {
	e := bareEnv(t)
	srv := serveBare(t, e)
	inv := e.queueTest("id-x", `{}`)
	if _, body, _ := do(t, srv, "GET", "/2018-06-01/runtime/invocation/next", ""); body != `{}` {
		t.Fatalf("next: %q", body)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "POST /2018-06-01/runtime/invocation/id-x/response HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != 100 {
		t.Fatalf("before the body: %v, %v; want 100 Continue", cont, err)
	}
	if _, err := io.WriteString(c, `"ok"`); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("after the body: %v, %v; want 202", resp, err)
	}
	<-inv.done
	if string(inv.body) != `"ok"` {
		t.Errorf("answer recorded as %q", inv.body)
	}
}
