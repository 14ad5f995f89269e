package gateway

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
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
	// vals holds the values of the reply's X-Request-Id and Content-Length
	// headers, as one-element slices of it, saving an allocation each.
	vals [2]string
	// segBuf holds segs when the path has no more segments than it.
	segBuf [8]string
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
