package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// eventOf builds the event a route gives for a request, decoded as a
// generic JSON object so that the test sees field names, nulls and types
// as a function does.
func eventOf(t *testing.T, route Route, r *http.Request, body []byte) map[string]any {
	t.Helper()
	e, err := compile(route)
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := splitPath(r.URL.EscapedPath())
	q := &request{r: r, id: "req-1", start: time.UnixMilli(1700000000123), segs: segs, params: e.params(segs), body: body, stage: "latest"}
	b, err := e.event(q)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func get(m map[string]any, path string) any {
	var v any = m
	for k := range strings.SplitSeq(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// TestRESTEventFields checks payload 1.0 against ../shared/LAMBDA.md
// ("API Gateway proxy events"): every field it names is there, with the
// values and nulls it describes.
func TestRESTEventFields(t *testing.T) {
	r := httptest.NewRequest("POST", "http://api.example.com:8080/users/42?a=1&b=2&b=3&flag", strings.NewReader(`{"x":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Add("X-Many", "one")
	r.Header.Add("X-Many", "two")
	r.RemoteAddr = "10.1.2.3:5555"
	ev := eventOf(t, Route{Method: "POST", Path: "/users/{id}", Function: "users"}, r, []byte(`{"x":1}`))

	for _, k := range []string{"resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
		"multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body", "isBase64Encoded"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("event has no %q", k)
		}
	}
	for _, c := range []struct {
		path string
		want any
	}{
		{"resource", "/users/{id}"},
		{"path", "/users/42"},
		{"httpMethod", "POST"},
		{"headers.Content-Type", "application/json"},
		{"headers.X-Many", "two"}, // repeated: the last
		{"multiValueHeaders.X-Many", []any{"one", "two"}},
		{"headers.Host", "api.example.com:8080"},
		{"headers.X-Forwarded-For", "10.1.2.3"},
		{"headers.X-Forwarded-Port", "8080"},
		{"headers.X-Forwarded-Proto", "http"},
		{"queryStringParameters.a", "1"},
		{"queryStringParameters.b", "3"}, // repeated: the last
		{"queryStringParameters.flag", ""},
		{"multiValueQueryStringParameters.b", []any{"2", "3"}},
		{"pathParameters.id", "42"},
		{"stageVariables", nil},
		{"body", `{"x":1}`},
		{"isBase64Encoded", false},
		{"requestContext.resourcePath", "/users/{id}"},
		{"requestContext.httpMethod", "POST"},
		{"requestContext.path", "/latest/users/42"},
		{"requestContext.stage", "latest"},
		{"requestContext.requestId", "req-1"},
		{"requestContext.requestTimeEpoch", float64(1700000000123)},
		{"requestContext.requestTime", "14/Nov/2023:22:13:20 +0000"},
		{"requestContext.identity.sourceIp", "10.1.2.3"},
		{"requestContext.identity.userAgent", "curl/8"},
		{"requestContext.identity.user", nil},
		{"requestContext.accountId", eventAccountID},
		{"requestContext.apiId", eventAPIID},
		{"requestContext.protocol", "HTTP/1.1"},
	} {
		if got := get(ev, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.path, got, c.want)
		}
	}
	ctx := ev["requestContext"].(map[string]any)
	if _, ok := ctx["identity"].(map[string]any)["user"]; !ok {
		t.Errorf("requestContext.identity.user is missing; want null")
	}
}

// TestRESTEventNulls: with no query, no path parameters and no body, those
// fields are null, not empty, as API Gateway sends them (claudia turns them
// into {}).
func TestRESTEventNulls(t *testing.T) {
	r := httptest.NewRequest("GET", "/hello", nil)
	ev := eventOf(t, Route{Method: "GET", Path: "/hello", Function: "hello"}, r, nil)
	for _, k := range []string{"queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"} {
		v, ok := ev[k]
		if !ok || v != nil {
			t.Errorf("%s = %#v (present %v), want null", k, v, ok)
		}
	}
	if ev["isBase64Encoded"] != false {
		t.Errorf("isBase64Encoded = %v, want false", ev["isBase64Encoded"])
	}
}

func TestGreedyEvent(t *testing.T) {
	r := httptest.NewRequest("GET", "/static/css/site.css", nil)
	ev := eventOf(t, Route{Method: "ANY", Path: "/static/{proxy+}", Function: "web"}, r, nil)
	if got := get(ev, "pathParameters.proxy"); got != "css/site.css" {
		t.Errorf("pathParameters.proxy = %#v, want css/site.css", got)
	}
	if got := get(ev, "resource"); got != "/static/{proxy+}" {
		t.Errorf("resource = %#v", got)
	}
}

// TestBinaryBody: a body that is not text goes base64-encoded.
func TestBinaryBody(t *testing.T) {
	bin := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 0xfe}
	for _, c := range []struct {
		ct   string
		body []byte
		b64  bool
	}{
		{"image/png", bin, true},
		{"application/octet-stream", []byte("text really"), true},
		{"text/plain", []byte("héllo"), false},
		{"text/plain", bin, true}, // not UTF-8
		{"application/json", []byte(`{"a":1}`), false},
		{"application/vnd.api+json", []byte(`{"a":1}`), false},
		{"", []byte("plain"), false},
	} {
		for _, format := range []string{FormatREST, FormatHTTP} {
			r := httptest.NewRequest("POST", "/up", strings.NewReader(string(c.body)))
			if c.ct != "" {
				r.Header.Set("Content-Type", c.ct)
			}
			ev := eventOf(t, Route{Method: "POST", Path: "/up", Function: "up", Format: format}, r, c.body)
			if got := ev["isBase64Encoded"]; got != c.b64 {
				t.Errorf("%s %q: isBase64Encoded = %v, want %v", format, c.ct, got, c.b64)
				continue
			}
			s, _ := ev["body"].(string)
			got := []byte(s)
			if c.b64 {
				var err error
				if got, err = base64.StdEncoding.DecodeString(s); err != nil {
					t.Errorf("%s %q: body %q is not base64: %v", format, c.ct, s, err)
				}
			}
			if string(got) != string(c.body) {
				t.Errorf("%s %q: body decodes to %q, want %q", format, c.ct, got, c.body)
			}
		}
	}
}

// TestHTTPEventFields checks payload 2.0 against LAMBDA.md.
func TestHTTPEventFields(t *testing.T) {
	r := httptest.NewRequest("GET", "http://h.example/items/9?a=1&a=2&z=", nil)
	r.Header.Set("User-Agent", "ua")
	r.Header.Add("X-Many", "one")
	r.Header.Add("X-Many", "two")
	r.Header.Set("Cookie", "s=1; t=2")
	r.RemoteAddr = "192.0.2.1:1"
	ev := eventOf(t, Route{Method: "GET", Path: "/items/{id}", Function: "items", Format: FormatHTTP}, r, nil)
	for _, c := range []struct {
		path string
		want any
	}{
		{"version", "2.0"},
		{"routeKey", "GET /items/{id}"},
		{"rawPath", "/items/9"},
		{"rawQueryString", "a=1&a=2&z="},
		{"cookies", []any{"s=1", "t=2"}},
		{"headers.x-many", "one,two"},
		{"headers.user-agent", "ua"},
		{"headers.host", "h.example"},
		{"headers.cookie", nil}, // moved to cookies
		{"queryStringParameters.a", "1,2"},
		{"queryStringParameters.z", ""},
		{"pathParameters.id", "9"},
		{"requestContext.http.method", "GET"},
		{"requestContext.http.path", "/items/9"},
		{"requestContext.http.protocol", "HTTP/1.1"},
		{"requestContext.http.sourceIp", "192.0.2.1"},
		{"requestContext.http.userAgent", "ua"},
		{"requestContext.requestId", "req-1"},
		{"requestContext.routeKey", "GET /items/{id}"},
		{"requestContext.stage", "latest"},
		{"requestContext.time", "14/Nov/2023:22:13:20 +0000"},
		{"requestContext.timeEpoch", float64(1700000000123)},
		{"isBase64Encoded", false},
	} {
		if got := get(ev, c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.path, got, c.want)
		}
	}
	for k := range ev["headers"].(map[string]any) {
		if k != strings.ToLower(k) {
			t.Errorf("header %q is not lower-case", k)
		}
	}
	// Empty parts are left out in 2.0.
	ev = eventOf(t, Route{Method: "GET", Path: "/x", Function: "x", Format: FormatHTTP}, httptest.NewRequest("GET", "/x", nil), nil)
	for _, k := range []string{"queryStringParameters", "pathParameters", "body", "cookies", "stageVariables"} {
		if _, ok := ev[k]; ok {
			t.Errorf("2.0 event without %s has it: %#v", k, ev[k])
		}
	}
}

func TestMapReply(t *testing.T) {
	for _, c := range []struct {
		name   string
		format string
		out    string
		status int
		header map[string][]string
		body   string
		bad    bool
	}{
		{"proxy", FormatREST, `{"statusCode":201,"headers":{"Content-Type":"text/plain","X-N":7},"body":"made"}`, 201,
			map[string][]string{"Content-Type": {"text/plain"}, "X-N": {"7"}}, "made", false},
		{"multi", FormatREST, `{"statusCode":200,"multiValueHeaders":{"Set-Cookie":["a=1","b=2"]},"headers":{"Set-Cookie":"a=1","X-One":"1"}}`, 200,
			map[string][]string{"Set-Cookie": {"a=1", "b=2"}, "X-One": {"1"}}, "", false},
		{"merge", FormatREST, `{"statusCode":200,"multiValueHeaders":{"X-A":["1"]},"headers":{"X-A":"2"}}`, 200,
			map[string][]string{"X-A": {"1", "2"}}, "", false},
		{"base64", FormatREST, `{"statusCode":200,"body":"iVBORw==","isBase64Encoded":true}`, 200, nil, "\x89PNG", false},
		{"string status", FormatREST, `{"statusCode":"404","body":"no"}`, 404, nil, "no", false},
		{"cookies 2.0", FormatHTTP, `{"statusCode":200,"cookies":["a=1","b=2"]}`, 200, map[string][]string{"Set-Cookie": {"a=1", "b=2"}}, "", false},
		{"hop-by-hop dropped", FormatREST, `{"statusCode":200,"headers":{"Content-Length":"99","Connection":"close"},"body":"x"}`, 200, map[string][]string{}, "x", false},
		{"plain object", FormatREST, `{"message":"hi"}`, 200, map[string][]string{"Content-Type": {"application/json"}}, `{"message":"hi"}`, false},
		{"string", FormatREST, `"Hello from AWS!"`, 200, map[string][]string{"Content-Type": {"application/json"}}, `"Hello from AWS!"`, false},
		{"number", FormatHTTP, `42`, 200, nil, `42`, false},
		{"null", FormatHTTP, `null`, 200, nil, `null`, false},
		{"array", FormatREST, `[1,2]`, 200, nil, `[1,2]`, false},
		{"bad status", FormatREST, `{"statusCode":99}`, 0, nil, "", true},
		{"status not a number", FormatREST, `{"statusCode":true}`, 0, nil, "", true},
		{"body not a string", FormatREST, `{"statusCode":200,"body":{"a":1}}`, 0, nil, "", true},
		{"bad base64", FormatREST, `{"statusCode":200,"body":"***","isBase64Encoded":true}`, 0, nil, "", true},
		{"headers not an object", FormatREST, `{"statusCode":200,"headers":[1]}`, 0, nil, "", true},
		{"header value an object", FormatREST, `{"statusCode":200,"headers":{"X":{"a":1}}}`, 0, nil, "", true},
		{"not JSON", FormatREST, `Hello`, 0, nil, "", true},
	} {
		p, err := mapReply([]byte(c.out), c.format)
		if c.bad {
			if err == nil {
				t.Errorf("%s: mapReply(%s) = %d %q, want an error", c.name, c.out, p.status, p.body)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: mapReply(%s) = %v", c.name, c.out, err)
			continue
		}
		if p.status != c.status || string(p.body) != c.body {
			t.Errorf("%s: mapReply(%s) = %d %q, want %d %q", c.name, c.out, p.status, p.body, c.status, c.body)
		}
		for k, want := range c.header {
			if got := p.header.Values(k); !slices.Equal(got, want) {
				t.Errorf("%s: header %s = %q, want %q", c.name, k, got, want)
			}
		}
		if c.header != nil && len(p.header) != len(c.header) {
			t.Errorf("%s: headers %v, want only %v", c.name, p.header, c.header)
		}
	}
}

func TestClaudiaConfigRoutes(t *testing.T) {
	// apiConfig() of gateway/test/testdata/claudia/app.js, as claudia-api-builder 4.1.2 prints it.
	const cfg = `{"version":4,"routes":{"hello":{"GET":{}},"echo/{id}":{"GET":{},"POST":{}},"items":{"POST":{"success":201}},"":{"ANY":{}}},"binaryMediaTypes":["image/png"]}`
	got, err := ClaudiaConfigRoutes([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := "ANY:/ GET:/echo/{id} GET:/hello OPTIONS:/ OPTIONS:/echo/{id} OPTIONS:/hello OPTIONS:/items POST:/echo/{id} POST:/items"
	if strings.Join(got, " ") != want {
		t.Errorf("ClaudiaConfigRoutes = %q, want %q", strings.Join(got, " "), want)
	}
	got, _ = ClaudiaConfigRoutes([]byte(`{"version":4,"corsHandlers":false,"routes":{"a":{"GET":{}}}}`))
	if strings.Join(got, " ") != "GET:/a" {
		t.Errorf("without CORS handlers: %q, want GET:/a", got)
	}
	for _, bad := range []string{`{}`, `[`, `{"routes":{"a b":{"GET":{}}}}`, `{"routes":{"a":{"FETCH":{}}}}`} {
		if got, err := ClaudiaConfigRoutes([]byte(bad)); err == nil {
			t.Errorf("ClaudiaConfigRoutes(%s) = %q, want an error", bad, got)
		}
	}
}
