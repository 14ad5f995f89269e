package gateway

// A function's reply, a proxy response or any other JSON, mapped to the
// HTTP reply as API Gateway does.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// proxyReply is a function's reply mapped to HTTP.
type proxyReply struct {
	status int
	header http.Header
	body   []byte
}

// errBadReply is a reply that has a statusCode but is not a valid proxy
// response: API Gateway answers 502.
var errBadReply = errors.New("malformed proxy response")

// mapReply turns a function's result into the HTTP reply: a JSON object
// with a statusCode is a proxy response ({statusCode, headers,
// multiValueHeaders, body, isBase64Encoded}, and cookies in payload 2.0);
// any other JSON becomes a 200 with that JSON as body, as HTTP APIs do. A
// proxy response that is malformed, or a result that is not JSON, is
// errBadReply.
func mapReply(out []byte, format string) (*proxyReply, error) {
	if p := mapReplyFast(out, format); p != nil {
		return p, nil
	}
	return mapReplySlow(out, format)
}

// mapReplySlow is mapReply for any result: lenient where API Gateway is
// (a statusCode or header value written as a string or number), and
// precise about what is wrong where it is not.
func mapReplySlow(out []byte, format string) (*proxyReply, error) {
	var f struct {
		StatusCode        json.RawMessage              `json:"statusCode"`
		Headers           map[string]json.RawMessage   `json:"headers"`
		MultiValueHeaders map[string][]json.RawMessage `json:"multiValueHeaders"`
		Body              json.RawMessage              `json:"body"`
		IsBase64Encoded   json.RawMessage              `json:"isBase64Encoded"`
		Cookies           json.RawMessage              `json:"cookies"`
	}
	isObject := firstNonSpace(out) == '{'
	err := json.Unmarshal(out, &f)
	if !isObject || err != nil || f.StatusCode == nil {
		if !json.Valid(out) {
			return nil, fmt.Errorf("%w: the result is not JSON", errBadReply)
		}
		if isObject && err != nil {
			// An object whose statusCode, headers or body have the wrong
			// types: a proxy response gone wrong if it has a statusCode.
			var probe map[string]json.RawMessage
			if json.Unmarshal(out, &probe) == nil && probe["statusCode"] != nil {
				return nil, fmt.Errorf("%w: %v", errBadReply, err)
			}
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		return &proxyReply{status: http.StatusOK, header: h, body: out}, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errBadReply}, args...)...)
	}
	p := &proxyReply{header: make(http.Header, len(f.Headers)+len(f.MultiValueHeaders))}
	code := string(f.StatusCode)
	if len(code) > 1 && code[0] == '"' {
		var s string
		if json.Unmarshal(f.StatusCode, &s) != nil {
			return nil, bad("statusCode is not a number")
		}
		code = s
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 599 {
		return nil, bad("statusCode %s is not an HTTP status", f.StatusCode)
	}
	p.status = n
	for k, vs := range f.MultiValueHeaders {
		for _, v := range vs {
			s, ok := scalar(v)
			if !ok {
				return nil, bad("multiValueHeaders[%q] holds a value that is not a string", k)
			}
			addHeader(p.header, k, s)
		}
	}
	for k, v := range f.Headers {
		s, ok := scalar(v)
		if !ok {
			return nil, bad("headers[%q] is not a string", k)
		}
		if slices.Contains(p.header.Values(k), s) {
			continue // in both: multiValueHeaders' value stands, as in API Gateway
		}
		addHeader(p.header, k, s)
	}
	if format == FormatHTTP && !isNull(f.Cookies) {
		var cs []string
		if err := json.Unmarshal(f.Cookies, &cs); err != nil {
			return nil, bad("cookies is not an array of strings")
		}
		for _, c := range cs {
			p.header.Add("Set-Cookie", c)
		}
	}
	var b64 bool
	if !isNull(f.IsBase64Encoded) {
		if err := json.Unmarshal(f.IsBase64Encoded, &b64); err != nil {
			return nil, bad("isBase64Encoded is not a boolean")
		}
	}
	if !isNull(f.Body) {
		var s string
		if err := json.Unmarshal(f.Body, &s); err != nil {
			return nil, bad("body is not a string")
		}
		if b64 {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, bad("body is not base64: %v", err)
			}
			p.body = b
		} else {
			p.body = []byte(s)
		}
	}
	for _, h := range hopHeaders {
		p.header.Del(h)
	}
	return p, nil
}

// mapReplyFast maps the common proxy response, the one whose fields all
// have their documented types (a numeric statusCode, string headers and
// body), in one pass of encoding/json; it returns nil for anything else,
// which mapReply's general path then maps (or refuses) as before.
// TestMapReplyFast holds the two paths to the same results.
func mapReplyFast(out []byte, format string) *proxyReply {
	if firstNonSpace(out) != '{' {
		return nil
	}
	var f fastProxy
	if json.Unmarshal(out, &f) != nil {
		return nil
	}
	return f.reply(format)
}

// fastProxy is a proxy response whose fields have their documented types.
type fastProxy struct {
	StatusCode        *int                `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              *string             `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	Cookies           []string            `json:"cookies"`
}

// reply maps f as mapReplySlow would, or returns nil if f is not a proxy
// response mapReplySlow would take as it is.
func (f *fastProxy) reply(format string) *proxyReply {
	if f.StatusCode == nil || *f.StatusCode < 100 || *f.StatusCode > 599 {
		return nil
	}
	p := &proxyReply{status: *f.StatusCode, header: make(http.Header, len(f.Headers)+len(f.MultiValueHeaders))}
	for k, vs := range f.MultiValueHeaders {
		for _, v := range vs {
			addHeader(p.header, k, oneLine(v))
		}
	}
	for k, v := range f.Headers {
		v = oneLine(v)
		if slices.Contains(p.header.Values(k), v) {
			continue
		}
		addHeader(p.header, k, v)
	}
	if format == FormatHTTP {
		for _, c := range f.Cookies {
			p.header.Add("Set-Cookie", c)
		}
	}
	if f.Body != nil {
		if f.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*f.Body)
			if err != nil {
				return nil
			}
			p.body = b
		} else {
			p.body = []byte(*f.Body)
		}
	}
	for _, h := range hopHeaders {
		p.header.Del(h)
	}
	return p
}

// hopHeaders are the headers of a function's reply the gateway drops: the
// connection's and the length's, which are the gateway's to set.
var hopHeaders = []string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Trailer"}

// crlf turns the line breaks of a header value into spaces.
var crlf = strings.NewReplacer("\r", " ", "\n", " ")

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return crlf.Replace(s)
	}
	return s
}

func addHeader(h http.Header, k, v string) {
	if validHeaderName(k) {
		h.Add(k, v)
	}
}

func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// scalar reads a header value: a string, or a number or boolean written as
// text, as API Gateway accepts them.
func scalar(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return oneLine(s), true
	}
	switch c := firstNonSpace(raw); {
	case c == 't' || c == 'f' || c == '-' || c >= '0' && c <= '9':
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// validHeaderName reports whether k is an HTTP token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
