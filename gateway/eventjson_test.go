package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEventJSON: the events written by hand decode to what encoding/json
// writes for the same structs, for requests with and without query,
// headers repeated, cookies, bodies text and binary, odd characters.
func TestEventJSON(t *testing.T) {
	for _, c := range []struct {
		method, url, body, ctype string
		headers                  map[string][]string
	}{
		{"GET", "http://127.0.0.1:8080/fn/hello/Ada", "", "", nil},
		{"GET", "http://example.com/fn/hello/A%20da?x=1&x=2&y&z=%3Cb%3E", "", "", map[string][]string{"X-Many": {"1", "2"}, "Cookie": {"a=1; b=2"}}},
		{"POST", "http://example.com:9/fn/hello/%E2%80%A8", "line\nnext \"quoted\" <b>&amp; \u2028\u2029 é \x01\x7f", "text/plain",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "X-Odd": {"tab\there"}}},
		{"PUT", "http://example.com/fn/hello/x", "\xff\xfe binary", "application/octet-stream", nil},
		{"POST", "http://example.com/fn/hello/x", `{"a":[1,2,{"b":null}]}`, "application/json", map[string][]string{"User-Agent": {"ua/1 \xff"}}},
	} {
		r := httptest.NewRequest(c.method, c.url, strings.NewReader(c.body))
		for k, vs := range c.headers {
			r.Header[k] = vs
		}
		if c.ctype != "" {
			r.Header.Set("Content-Type", c.ctype)
		}
		for _, format := range []string{FormatREST, FormatHTTP} {
			e, err := compile(Route{Method: "ANY", Path: "/fn/hello/{name}", Function: "hello", Format: format})
			if err != nil {
				t.Fatal(err)
			}
			segs, _ := splitPath(r.URL.EscapedPath())
			q := &request{r: r, id: "id-1", start: time.UnixMilli(1700000000123), segs: segs, params: e.params(segs), body: []byte(c.body), stage: "latest"}
			var want []byte
			if format == FormatHTTP {
				want, err = json.Marshal(httpEventOf(e, q))
			} else {
				want, err = json.Marshal(restEventOf(e, q))
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.event(q)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("%s %s (%s): the event is not JSON: %v\n%s", c.method, c.url, format, err, got)
			}
			json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s %s (%s):\ngot  %s\nwant %s", c.method, c.url, format, got, want)
			}
		}
	}
}

// TestMapReplyFast: the fast paths of mapReply and workerReply map every
// reply they take as the general path does, and leave the rest to it.
func TestMapReplyFast(t *testing.T) {
	for _, c := range []struct {
		reply string
		fast  bool // the fast path takes it
	}{
		{`{"statusCode":200,"headers":{"Content-Type":"application/json"},"multiValueHeaders":null,"body":"{\"message\":\"Hello, Ada\"}"}`, true},
		{`{"statusCode":201,"multiValueHeaders":{"Set-Cookie":["a=1","b=2"],"X":["1"]},"headers":{"X":"1","Y":"line\r\nbreak"},"body":"aGk=","isBase64Encoded":true}`, true},
		{`{"statusCode":204}`, true},
		{`{"statusCode":200,"cookies":["c=1"],"body":"x"}`, true},
		{`{"statusCode":200,"headers":{"Content-Length":"99","Connection":"close","bad name":"x"},"body":"abc"}`, true},
		{` {"StatusCode":302,"Headers":{"Location":"/x"}}`, true},
		{`{"statusCode":"200","body":"string status"}`, false},
		{`{"statusCode":200,"headers":{"X-Num":5,"X-Bool":true}}`, false},
		{`{"statusCode":200.5}`, false},
		{`{"statusCode":700}`, false},
		{`{"statusCode":200,"body":"not base64!","isBase64Encoded":true}`, false},
		{`{"statusCode":200,"body":5}`, false},
		{`{"message":"no statusCode"}`, false},
		{`"Hello from AWS!"`, false},
		{`[1,2]`, false},
		{`null`, false},
		{`{"statusCode":200,"cookies":"c=1"}`, false},
	} {
		for _, format := range []string{FormatREST, FormatHTTP} {
			fast := mapReplyFast([]byte(c.reply), format)
			if (fast != nil) != c.fast {
				t.Errorf("mapReplyFast(%s, %s) took it: %v, want %v", c.reply, format, fast != nil, c.fast)
			}
			slow, err := mapReplySlow([]byte(c.reply), format)
			got, gerr := mapReply([]byte(c.reply), format)
			if (err == nil) != (gerr == nil) || !reflect.DeepEqual(got, slow) {
				t.Errorf("mapReply(%s, %s) = %+v, %v; the general path gives %+v, %v", c.reply, format, got, gerr, slow, err)
			}
			if fast != nil && !reflect.DeepEqual(fast, slow) {
				t.Errorf("mapReplyFast(%s, %s) = %+v; the general path gives %+v", c.reply, format, fast, slow)
			}
			// The same result in a worker's reply.
			wr := `{"version":3,"requestId":"r-1","payload":` + c.reply + `,"cold":false}`
			got, gerr = workerReply(json.RawMessage(wr), format)
			if (err == nil) != (gerr == nil) || !reflect.DeepEqual(got, slow) {
				t.Errorf("workerReply(%s, %s) = %+v, %v; the general path gives %+v, %v", wr, format, got, gerr, slow, err)
			}
		}
	}
}
