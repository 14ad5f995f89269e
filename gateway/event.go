package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Fixed parts of the request context: Stoa has no AWS account and one API
// per gateway. Functions that read them see stable values.
const (
	eventAccountID = "000000000000"
	eventAPIID     = "stoa"
)

// request is what the gateway knows of a request when it builds an event.
type request struct {
	r      *http.Request
	id     string
	start  time.Time
	segs   []string
	params map[string]string
	body   []byte
	stage  string
}

// restEvent is API Gateway's REST API proxy event, payload 1.0. Maps that
// are nil encode as null, as API Gateway sends them.
type restEvent struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  restContext         `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type restContext struct {
	AccountID         string       `json:"accountId"`
	APIID             string       `json:"apiId"`
	DomainName        string       `json:"domainName"`
	DomainPrefix      string       `json:"domainPrefix"`
	ExtendedRequestID string       `json:"extendedRequestId"`
	HTTPMethod        string       `json:"httpMethod"`
	Identity          restIdentity `json:"identity"`
	Path              string       `json:"path"`
	Protocol          string       `json:"protocol"`
	RequestID         string       `json:"requestId"`
	RequestTime       string       `json:"requestTime"`
	RequestTimeEpoch  int64        `json:"requestTimeEpoch"`
	ResourceID        string       `json:"resourceId"`
	ResourcePath      string       `json:"resourcePath"`
	Stage             string       `json:"stage"`
}

// restIdentity has API Gateway's identity fields; those Stoa has no value
// for are null, as for an unauthenticated caller.
type restIdentity struct {
	AccessKey                     *string `json:"accessKey"`
	AccountID                     *string `json:"accountId"`
	APIKey                        *string `json:"apiKey"`
	APIKeyID                      *string `json:"apiKeyId"`
	Caller                        *string `json:"caller"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	PrincipalOrgID                *string `json:"principalOrgId"`
	SourceIP                      string  `json:"sourceIp"`
	User                          *string `json:"user"`
	UserAgent                     *string `json:"userAgent"`
	UserArn                       *string `json:"userArn"`
}

// httpEvent is API Gateway's HTTP API proxy event, payload 2.0, which
// leaves out what is empty.
type httpEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	StageVariables        map[string]string `json:"stageVariables,omitempty"`
	RequestContext        httpContext       `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type httpContext struct {
	AccountID    string          `json:"accountId"`
	APIID        string          `json:"apiId"`
	DomainName   string          `json:"domainName"`
	DomainPrefix string          `json:"domainPrefix"`
	HTTP         httpDescription `json:"http"`
	RequestID    string          `json:"requestId"`
	RouteKey     string          `json:"routeKey"`
	Stage        string          `json:"stage"`
	Time         string          `json:"time"`
	TimeEpoch    int64           `json:"timeEpoch"`
}

type httpDescription struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// clfTime is the time format of requestTime: "09/Apr/2015:12:34:56 +0000".
const clfTime = "02/Jan/2006:15:04:05 -0700"

// event builds the proxy event of the route's format, as JSON.
func (e *entry) event(q *request) ([]byte, error) {
	b := make([]byte, 0, 1536+len(q.body)+len(q.body)/8)
	if e.Format == FormatHTTP {
		return appendHTTPEvent(b, httpEventOf(e, q)), nil
	}
	return appendRestEvent(b, restEventOf(e, q)), nil
}

func restEventOf(e *entry, q *request) *restEvent {
	r := q.r
	ev := &restEvent{
		Resource:       e.Path,
		Path:           r.URL.Path,
		HTTPMethod:     r.Method,
		PathParameters: q.params,
	}
	ev.Headers, ev.MultiValueHeaders = restHeaders(r)
	if len(r.URL.RawQuery) > 0 {
		ev.MultiValueQueryStringParameters = query(r.URL.RawQuery)
		if len(ev.MultiValueQueryStringParameters) > 0 {
			ev.QueryStringParameters = make(map[string]string, len(ev.MultiValueQueryStringParameters))
			for k, vs := range ev.MultiValueQueryStringParameters {
				ev.QueryStringParameters[k] = vs[len(vs)-1]
			}
		} else {
			ev.MultiValueQueryStringParameters = nil
		}
	}
	if len(q.body) > 0 {
		s, b64 := encodeBody(r.Header.Get("Content-Type"), q.body)
		ev.Body, ev.IsBase64Encoded = &s, b64
	}
	ip := remoteIP(r)
	ev.RequestContext = restContext{
		AccountID:         eventAccountID,
		APIID:             eventAPIID,
		DomainName:        hostOnly(r.Host),
		DomainPrefix:      domainPrefix(r.Host),
		ExtendedRequestID: q.id,
		HTTPMethod:        r.Method,
		Identity:          restIdentity{SourceIP: ip},
		Path:              "/" + q.stage + r.URL.Path,
		Protocol:          r.Proto,
		RequestID:         q.id,
		RequestTime:       q.start.UTC().Format(clfTime),
		RequestTimeEpoch:  q.start.UnixMilli(),
		ResourceID:        e.rid,
		ResourcePath:      e.Path,
		Stage:             q.stage,
	}
	if ua := r.UserAgent(); ua != "" {
		ev.RequestContext.Identity.UserAgent = &ua
	}
	return ev
}

func httpEventOf(e *entry, q *request) *httpEvent {
	r := q.r
	ev := &httpEvent{
		Version:        "2.0",
		RouteKey:       e.key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+1),
		PathParameters: q.params,
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lk] = strings.Join(vs, ",")
	}
	ev.Headers["host"] = r.Host
	addForwarded(r, func(k, v string) { ev.Headers[strings.ToLower(k)] = v })
	if len(r.URL.RawQuery) > 0 {
		mv := query(r.URL.RawQuery)
		if len(mv) > 0 {
			ev.QueryStringParameters = make(map[string]string, len(mv))
			for k, vs := range mv {
				ev.QueryStringParameters[k] = strings.Join(vs, ",")
			}
		}
	}
	if len(q.body) > 0 {
		ev.Body, ev.IsBase64Encoded = encodeBody(r.Header.Get("Content-Type"), q.body)
	}
	ev.RequestContext = httpContext{
		AccountID:    eventAccountID,
		APIID:        eventAPIID,
		DomainName:   hostOnly(r.Host),
		DomainPrefix: domainPrefix(r.Host),
		HTTP: httpDescription{
			Method:    r.Method,
			Path:      r.URL.Path,
			Protocol:  r.Proto,
			SourceIP:  remoteIP(r),
			UserAgent: r.UserAgent(),
		},
		RequestID: q.id,
		RouteKey:  e.key,
		Stage:     q.stage,
		Time:      q.start.UTC().Format(clfTime),
		TimeEpoch: q.start.UnixMilli(),
	}
	return ev
}

// restHeaders gives the request's headers as payload 1.0 has them: the last
// value of each in headers, all of them in multiValueHeaders. Go's server
// has already put names in canonical case (Content-Type), which is what
// most clients send. Host and the X-Forwarded-* headers API Gateway adds
// are added.
func restHeaders(r *http.Request) (map[string]string, map[string][]string) {
	h := make(map[string]string, len(r.Header)+4)
	mv := make(map[string][]string, len(r.Header)+4)
	for k, vs := range r.Header {
		if len(vs) == 0 {
			continue
		}
		h[k] = vs[len(vs)-1]
		mv[k] = vs
	}
	h["Host"], mv["Host"] = r.Host, []string{r.Host}
	addForwarded(r, func(k, v string) { h[k], mv[k] = v, []string{v} })
	return h, mv
}

// addForwarded sets the X-Forwarded-For, -Port and -Proto headers API
// Gateway adds: the client's address appended to any X-Forwarded-For the
// client sent.
func addForwarded(r *http.Request, set func(k, v string)) {
	ip := remoteIP(r)
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		set("X-Forwarded-For", strings.Join(prior, ", ")+", "+ip)
	} else {
		set("X-Forwarded-For", ip)
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	set("X-Forwarded-Port", port)
	set("X-Forwarded-Proto", proto)
}

// query parses a raw query as API Gateway does: every value of every key,
// in order; a key without a value has "".
func query(raw string) map[string][]string {
	out := map[string][]string{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := unescapeQuery(k)
		v, err2 := unescapeQuery(v)
		if err1 != nil || err2 != nil || k == "" {
			continue
		}
		out[k] = append(out[k], v)
	}
	return out
}

func unescapeQuery(s string) (string, error) {
	if strings.ContainsAny(s, "%+") {
		return url.QueryUnescape(s)
	}
	return s, nil
}

// remoteIP is the address the connection came from, and the event's
// sourceIp (a gateway behind a proxy sees the proxy; X-Forwarded-For
// carries the rest).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

func domainPrefix(h string) string {
	h = hostOnly(h)
	if net.ParseIP(h) != nil {
		return h
	}
	p, _, _ := strings.Cut(h, ".")
	return p
}

// resourceID is a short, stable id of the route, as API Gateway gives each
// resource one.
func (e *entry) resourceID() string {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(e.shape); i++ {
		h ^= uint32(e.shape[i])
		h *= 16777619
	}
	return fmt.Sprintf("%06x", h&0xffffff)
}

// encodeBody gives the body as the event carries it: as text when its
// content type is textual (or absent) and it is valid UTF-8, else base64
// with isBase64Encoded set. This is HTTP API's rule; REST APIs decide by a
// list of binary media types, which a gateway without one cannot know, and
// a JSON string cannot carry bytes that are not UTF-8 anyway.
func encodeBody(contentType string, b []byte) (string, bool) {
	if textual(contentType) && utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

func textual(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	switch mt {
	case "application/json", "application/javascript", "application/xml", "application/x-www-form-urlencoded",
		"application/graphql", "application/yaml", "application/x-yaml", "application/ld+json", "image/svg+xml":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

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
