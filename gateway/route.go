package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Methods a route may name. MethodAny matches every method that no route of
// the same path names itself.
const (
	MethodAny = "ANY"
)

// methods are the HTTP methods a route may name, besides ANY.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Event formats of function routes: API Gateway's proxy payload versions.
const (
	FormatREST = "1.0" // REST API proxy event, payload 1.0 (the default)
	FormatHTTP = "2.0" // HTTP API proxy event, payload 2.0
)

// Route maps requests to a target: a function, invoked with an API Gateway
// proxy event, or an act pattern, acted with the request folded into the
// message. Exactly one of Function and Act is set.
//
// A route is identified by its Key, "METHOD /path": adding a route with the
// key of another replaces it.
type Route struct {
	// Method is an HTTP method in upper case, or "ANY" (also written "" or
	// "*"). A route naming the request's method beats an ANY route of the
	// same path.
	Method string `json:"method"`

	// Path is the path template: literal segments, {param} segments that
	// match any one non-empty segment, and a final {param+} that matches
	// the rest of the path (one segment or more), as in API Gateway:
	// "/users/{id}", "/files/{proxy+}", "/".
	Path string `json:"path"`

	// Function names the function that answers; Qualifier picks its
	// version: an alias or a version number, "" meaning the alias
	// "latest". Format is the event's payload version, FormatREST ("" too)
	// or FormatHTTP.
	Function  string `json:"function,omitempty"`
	Qualifier string `json:"qualifier,omitempty"`
	Format    string `json:"format,omitempty"`

	// Act is the pattern of an act route, in Seneca's string form
	// ("role:user,cmd:get"). Its keys go into every message the route acts,
	// over anything the request says.
	Act string `json:"act,omitempty"`

	// Timeout bounds the act or the invocation; past it the client gets
	// 504. 0 means the server's DefaultTimeout. JSON: a duration string,
	// "5s".
	Timeout time.Duration `json:"-"`

	// CORS, if set, makes the gateway answer the route's CORS preflight
	// requests itself and add CORS headers to its replies.
	CORS *CORS `json:"cors,omitempty"`

	// RateLimit, if set, caps the requests per second this route takes on
	// each gateway; beyond it the client gets 429.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// Source says where the route comes from: "static" (Server.Routes),
	// "store" (the route store: API and routes files) or "function:NAME"
	// (the function's configuration). The gateway sets it; it is ignored
	// on input.
	Source string `json:"source,omitempty"`
}

// CORS is a route's cross-origin policy. The gateway answers a preflight
// request (OPTIONS with Origin and Access-Control-Request-Method) for the
// route with 204 and these headers, and adds Access-Control-Allow-Origin
// (and the exposed headers and credentials flag) to its other replies when
// the request's Origin is allowed.
type CORS struct {
	// AllowOrigins lists the origins allowed ("https://app.example"), or
	// "*" for any. Empty allows none.
	AllowOrigins []string `json:"allowOrigins"`
	// AllowMethods lists the methods a preflight allows; empty means the
	// route's method (every method for an ANY route).
	AllowMethods []string `json:"allowMethods,omitempty"`
	// AllowHeaders lists the request headers a preflight allows; empty
	// allows the headers the preflight asks for.
	AllowHeaders []string `json:"allowHeaders,omitempty"`
	// ExposeHeaders lists the reply headers a browser may show the page.
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// AllowCredentials lets the browser send cookies; the allowed origin is
	// then echoed, never "*".
	AllowCredentials bool `json:"allowCredentials,omitempty"`
	// MaxAge is how many seconds a browser may cache a preflight's answer;
	// 0 sends no Access-Control-Max-Age.
	MaxAge int `json:"maxAge,omitempty"`
}

// RateLimit is a token bucket: the route takes Rate requests per second on
// average and up to Burst at once; a request that finds the bucket empty
// gets 429 at once (it is not queued).
type RateLimit struct {
	Rate  float64 `json:"rate"`            // tokens added per second; must be > 0
	Burst int     `json:"burst,omitempty"` // bucket size; 0 means Rate rounded up (at least 1)
}

// Key is the route's identity, "METHOD /path", with the method in upper
// case: "GET /users/{id}", "ANY /{proxy+}".
func (r Route) Key() string { return normMethod(r.Method) + " " + r.Path }

// IsFunction reports whether the route invokes a function.
func (r Route) IsFunction() bool { return r.Function != "" }

func normMethod(m string) string {
	switch m = strings.ToUpper(strings.TrimSpace(m)); m {
	case "", "*":
		return MethodAny
	}
	return m
}

// routeJSON is Route as it is written: Timeout as text.
type routeJSON struct {
	routeAlias
	Timeout string `json:"timeout,omitempty"`
}

type routeAlias Route

// MarshalJSON writes the route with its timeout as a duration string.
func (r Route) MarshalJSON() ([]byte, error) {
	j := routeJSON{routeAlias: routeAlias(r)}
	if r.Timeout != 0 {
		j.Timeout = r.Timeout.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a route written by MarshalJSON; the timeout may also
// be a number of milliseconds. Fields it does not know are ignored (a route
// stored by a newer gateway still reads); routes documents and the
// management API refuse them (ReadRoutes).
func (r *Route) UnmarshalJSON(b []byte) error { return r.decode(b, false) }

func (r *Route) decode(b []byte, strict bool) error {
	var j struct {
		routeAlias
		Timeout json.RawMessage `json:"timeout,omitempty"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(&j); err != nil {
		return err
	}
	*r = Route(j.routeAlias)
	r.Timeout = 0
	if len(j.Timeout) > 0 && string(j.Timeout) != "null" {
		var s string
		if json.Unmarshal(j.Timeout, &s) == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("timeout: %w", err)
			}
			r.Timeout = d
		} else {
			var ms float64
			if err := json.Unmarshal(j.Timeout, &ms); err != nil {
				return errors.New("timeout: want a duration string (\"5s\") or milliseconds")
			}
			r.Timeout = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return nil
}

// decodeRouteStrict reads a route, refusing fields it does not know.
func decodeRouteStrict(b []byte) (Route, error) {
	var r Route
	err := r.decode(b, true)
	return r, err
}

// ParseRoute reads a route key as a function's configuration writes it
// ("GET:/hello"), as Key writes it ("GET /hello"), or a path alone ("/hello",
// which means ANY), and returns a Route with Method and Path set.
func ParseRoute(s string) (Route, error) {
	s = strings.TrimSpace(s)
	var method, path string
	switch i := strings.IndexAny(s, ": "); {
	case strings.HasPrefix(s, "/"):
		method, path = MethodAny, s
	case i > 0:
		method, path = s[:i], strings.TrimSpace(s[i+1:])
	default:
		return Route{}, fmt.Errorf("gateway: route %q: want METHOD:/path", s)
	}
	r := Route{Method: normMethod(method), Path: path}
	if err := r.validKey(); err != nil {
		return Route{}, err
	}
	return r, nil
}

// Validate reports what is wrong with r, naming the field at fault, or nil.
func (r Route) Validate() error {
	if err := r.validKey(); err != nil {
		return err
	}
	fail := func(field, format string, args ...any) error {
		return &RouteError{Key: r.Key(), Field: field, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case r.Function == "" && r.Act == "":
		return fail("function", "a route needs a function or an act")
	case r.Function != "" && r.Act != "":
		return fail("act", "a route has a function or an act, not both")
	}
	if r.Function != "" {
		if !validName(r.Function) {
			return fail("function", "%q is not a function name (letters, digits, '-' and '_')", r.Function)
		}
		if r.Qualifier != "" && !validName(r.Qualifier) {
			return fail("qualifier", "%q is not an alias or a version", r.Qualifier)
		}
		switch r.Format {
		case "", FormatREST, FormatHTTP:
		default:
			return fail("format", "%q: want %q or %q", r.Format, FormatREST, FormatHTTP)
		}
	} else {
		if r.Qualifier != "" || r.Format != "" {
			return fail("qualifier", "qualifier and format apply to function routes only")
		}
		if _, err := parsePattern(r.Act); err != nil {
			return fail("act", "%v", err)
		}
	}
	if r.Timeout < 0 {
		return fail("timeout", "%v is negative", r.Timeout)
	}
	if rl := r.RateLimit; rl != nil && (!(rl.Rate > 0) || rl.Burst < 0) {
		return fail("rateLimit", "rate must be above 0 and burst not below 0")
	}
	if c := r.CORS; c != nil {
		if c.MaxAge < 0 {
			return fail("cors", "maxAge is negative")
		}
		for _, m := range c.AllowMethods {
			if m != "*" && !validMethod(strings.ToUpper(m)) {
				return fail("cors", "allowMethods: %q is not a method", m)
			}
		}
	}
	return nil
}

func (r Route) validKey() error {
	m := normMethod(r.Method)
	if m != MethodAny && !validMethod(m) {
		return &RouteError{Key: r.Key(), Field: "method", Err: fmt.Errorf("%q is not a method (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or ANY)", r.Method)}
	}
	if _, err := parseTemplate(r.Path); err != nil {
		return &RouteError{Key: r.Key(), Field: "path", Err: err}
	}
	if reserved(r.Path) {
		return &RouteError{Key: r.Key(), Field: "path", Err: errors.New("the gateway serves this path itself (" + reservedPaths + ")")}
	}
	return nil
}

func validMethod(m string) bool {
	for _, x := range methods {
		if m == x {
			return true
		}
	}
	return false
}

// validName accepts function names, aliases and versions: letters, digits,
// '-' and '_', 1 to 64 of them.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RouteError is a route refused: it names the route and the field at fault.
type RouteError struct {
	Key   string // the route's key, "GET /users/{id}"
	Field string // method, path, function, act, …
	Err   error  // what is wrong; ErrAmbiguous and ErrDuplicate match it with errors.Is
}

// Error says which route, which field and what is wrong.
func (e *RouteError) Error() string {
	return fmt.Sprintf("gateway: route %s: %s: %v", e.Key, e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *RouteError) Unwrap() error { return e.Err }

// ErrAmbiguous is what adding a route that would match exactly the same
// requests as another, with different parameter names, fails with; match it
// with errors.Is.
var ErrAmbiguous = errors.New("gateway: ambiguous route")

// ErrDuplicate is what adding a route whose key another source already
// holds fails with.
var ErrDuplicate = errors.New("gateway: duplicate route")

// segKind is the kind of a template segment, in the order of precedence:
// a literal beats a parameter, which beats a greedy parameter.
type segKind uint8

const (
	segLiteral segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the parameter's name
}

// template is a parsed path template.
type template []segment

// shape is the template with parameter names left out: two routes of one
// method and one shape match exactly the same requests.
func (t template) shape() string {
	var b strings.Builder
	for _, s := range t {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.text)
		case segParam:
			b.WriteString("{}")
		case segGreedy:
			b.WriteString("{+}")
		}
	}
	return b.String()
}

// maxSegments caps a template's segments.
const maxSegments = 64

// parseTemplate reads a path template. Literal segments are taken as they
// are written (they are compared with the request's percent-decoded
// segments).
func parseTemplate(p string) (template, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("a path starts with /")
	}
	if p == "/" {
		return template{}, nil
	}
	parts := strings.Split(p[1:], "/")
	if len(parts) > maxSegments {
		return nil, fmt.Errorf("more than %d segments", maxSegments)
	}
	t := make(template, 0, len(parts))
	names := map[string]bool{}
	for i, s := range parts {
		switch {
		case s == "":
			return nil, errors.New("empty segment (// or a trailing /)")
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name, greedy := s[1:len(s)-1], false
			if strings.HasSuffix(name, "+") {
				name, greedy = name[:len(name)-1], true
			}
			if !validParam(name) {
				return nil, fmt.Errorf("parameter %q: a name is letters, digits, '-' and '_'", s)
			}
			if names[name] {
				return nil, fmt.Errorf("parameter {%s} appears twice", name)
			}
			names[name] = true
			if greedy {
				if i != len(parts)-1 {
					return nil, fmt.Errorf("greedy parameter %s must be the last segment", s)
				}
				t = append(t, segment{segGreedy, name})
			} else {
				t = append(t, segment{segParam, name})
			}
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("segment %q: a parameter takes a whole segment", s)
		case strings.IndexFunc(s, func(c rune) bool { return c <= ' ' || c == 0x7f || c == '?' || c == '#' }) >= 0:
			return nil, fmt.Errorf("segment %q: spaces, control characters, '?' and '#' have no place in a path", s)
		default:
			t = append(t, segment{segLiteral, s})
		}
	}
	return t, nil
}

func validParam(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// The paths the gateway answers itself, which no route may take.
const (
	pathHealthz   = "/healthz"
	pathLivez     = "/livez"
	pathReadyz    = "/readyz"
	pathMetrics   = "/metrics"
	reservedRoot  = "_stoa" // the management API lives under /_stoa/
	reservedPaths = "/healthz, /livez, /readyz, /metrics and /_stoa/…"
)

// reserved reports whether a template's literal prefix is one of the
// gateway's own paths. A template that only matches them through a
// parameter ("/{x}") is allowed: the gateway's own paths are answered first.
func reserved(p string) bool {
	switch p {
	case pathHealthz, pathLivez, pathReadyz, pathMetrics:
		return true
	}
	return p == "/"+reservedRoot || strings.HasPrefix(p, "/"+reservedRoot+"/")
}
