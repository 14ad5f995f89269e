package gateway

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func actRoute(key string) Route {
	r, err := ParseRoute(key)
	if err != nil {
		panic(err)
	}
	r.Act = "role:test"
	return r
}

// routingTable is the table TestMatch routes through.
var routingTable = []string{
	"GET /",
	"GET /users",
	"GET /users/{id}",
	"GET /users/me",
	"ANY /users/{id}/posts",
	"POST /users/{id}/posts",
	"GET /users/{id}/posts/{post}",
	"GET /files/{proxy+}",
	"GET /files/readme",
	"ANY /{proxy+}",
	"GET /a/{x}/{rest+}",
	"GET /a/{rest+}",
	"GET /{x}/b",
	"GET /a/{y}/c",
	"DELETE /things/{id}",
	"ANY /things/special",
}

type matchCase struct {
	method, path string
	want         string // the route key; "" for none
	params       map[string]string
}

var matchCases = []matchCase{
	{"GET", "/", "GET /", nil},
	{"POST", "/", "", nil}, // {proxy+} needs a segment
	{"GET", "/users", "GET /users", nil},
	{"GET", "/users/", "GET /users", nil}, // a trailing slash is ignored
	{"GET", "/users/42", "GET /users/{id}", map[string]string{"id": "42"}},
	{"GET", "/users/me", "GET /users/me", nil},                                     // literal beats param
	{"POST", "/users/me", "ANY /{proxy+}", map[string]string{"proxy": "users/me"}}, // no POST or ANY at /users/me or /users/{id}
	{"GET", "/users/42/posts", "ANY /users/{id}/posts", map[string]string{"id": "42"}},
	{"POST", "/users/42/posts", "POST /users/{id}/posts", map[string]string{"id": "42"}}, // method beats ANY
	{"GET", "/users/42/posts/7", "GET /users/{id}/posts/{post}", map[string]string{"id": "42", "post": "7"}},
	{"GET", "/files/readme", "GET /files/readme", nil},
	{"GET", "/files/a/b/c", "GET /files/{proxy+}", map[string]string{"proxy": "a/b/c"}},
	{"GET", "/files/x", "GET /files/{proxy+}", map[string]string{"proxy": "x"}},
	{"GET", "/files", "ANY /{proxy+}", map[string]string{"proxy": "files"}}, // greedy needs a segment
	{"GET", "/a/b/c", "GET /a/{y}/c", map[string]string{"y": "b"}},          // a, param, literal c
	{"GET", "/a/b/d", "GET /a/{x}/{rest+}", map[string]string{"x": "b", "rest": "d"}},
	{"GET", "/a/b", "GET /a/{rest+}", map[string]string{"rest": "b"}}, // beats /{x}/b: the literal a comes first
	{"GET", "/z/b", "GET /{x}/b", map[string]string{"x": "z"}},
	{"GET", "/a/b%2Fc/c", "GET /a/{y}/c", map[string]string{"y": "b/c"}}, // an escaped slash stays in its segment
	{"GET", "/users//posts", "ANY /{proxy+}", map[string]string{"proxy": "users//posts"}},
	{"DELETE", "/things/special", "ANY /things/special", nil},
	{"DELETE", "/things/other", "DELETE /things/{id}", map[string]string{"id": "other"}},
	{"GET", "/things/other", "ANY /{proxy+}", map[string]string{"proxy": "things/other"}},
	{"HEAD", "/users", "ANY /{proxy+}", map[string]string{"proxy": "users"}}, // HEAD is its own method
}

func TestMatch(t *testing.T) {
	tab := newTable()
	for _, k := range routingTable {
		if _, err := tab.add(actRoute(k)); err != nil {
			t.Fatalf("add(%s) = %v, want nil", k, err)
		}
	}
	for _, c := range matchCases {
		segs, ok := splitPath(c.path)
		if !ok {
			t.Errorf("splitPath(%q) failed", c.path)
			continue
		}
		e := tab.match(c.method, segs)
		got := ""
		if e != nil {
			got = e.Key()
		}
		if got != c.want {
			t.Errorf("%s %s: got route %q, want %q", c.method, c.path, got, c.want)
			continue
		}
		if e == nil {
			continue
		}
		if p := e.params(segs); !maps.Equal(p, c.params) {
			t.Errorf("%s %s: got params %v, want %v", c.method, c.path, p, c.params)
		}
	}
}

func TestMatchAgreesWithReference(t *testing.T) {
	var routes []Route
	tab := newTable()
	for _, k := range routingTable {
		r := actRoute(k)
		if _, err := tab.add(r); err != nil {
			t.Fatal(err)
		}
		routes = append(routes, r)
	}
	for _, c := range matchCases {
		segs, _ := splitPath(c.path)
		got, want := keyOf(tab.match(c.method, segs)), matchSlow(routes, c.method, segs)
		if got != want {
			t.Errorf("%s %s: table got %q, reference wants %q", c.method, c.path, got, want)
		}
	}
}

func TestAllowed(t *testing.T) {
	tab := newTable()
	for _, k := range []string{"GET /items", "POST /items", "DELETE /items/{id}"} {
		if _, err := tab.add(actRoute(k)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := splitPath("/items")
	if e := tab.match("PUT", segs); e != nil {
		t.Fatalf("PUT /items matched %s, want none", e.Key())
	}
	if got, want := strings.Join(tab.allowed(segs), ","), "GET,POST"; got != want {
		t.Errorf("allowed(/items) = %q, want %q", got, want)
	}
	segs, _ = splitPath("/nothing")
	if got := tab.allowed(segs); got != nil {
		t.Errorf("allowed(/nothing) = %q, want none", got)
	}
}

func TestAddRefuses(t *testing.T) {
	for _, c := range []struct {
		existing []string
		add      string
		want     error // a sentinel, or nil for a *RouteError of another kind
		field    string
	}{
		{[]string{"GET /users/{id}"}, "GET /users/{name}", ErrAmbiguous, "path"},
		{[]string{"GET /files/{proxy+}"}, "GET /files/{path+}", ErrAmbiguous, "path"},
		{[]string{"ANY /x/{a}/y"}, "ANY /x/{b}/y", ErrAmbiguous, "path"},
		{[]string{"GET /users/{id}"}, "GET /users/{id}", ErrDuplicate, "path"},
		{[]string{"GET /users"}, "get /users", ErrDuplicate, "path"},
		{nil, "GET users", nil, "path"},
		{nil, "GET /users/", nil, "path"},
		{nil, "GET /a//b", nil, "path"},
		{nil, "GET /{proxy+}/x", nil, "path"},
		{nil, "GET /a/{x}/{x}", nil, "path"},
		{nil, "GET /a/{}", nil, "path"},
		{nil, "GET /a/b{x}", nil, "path"},
		{nil, "GET /a/{x y}", nil, "path"},
		{nil, "FETCH /a", nil, "method"},
		{nil, "GET /healthz", nil, "path"},
		{nil, "GET /_stoa/api/v1/routes", nil, "path"},
		{nil, "ANY /_stoa", nil, "path"},
	} {
		tab := newTable()
		for _, k := range c.existing {
			if _, err := tab.add(actRoute(k)); err != nil {
				t.Fatal(err)
			}
		}
		r, err := ParseRoute(c.add)
		if err == nil {
			r.Act = "role:test"
			_, err = tab.add(r)
		}
		var re *RouteError
		switch {
		case err == nil:
			t.Errorf("adding %s after %v: got nil, want an error", c.add, c.existing)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("adding %s after %v: got %v, want %v", c.add, c.existing, err, c.want)
		case !errors.As(err, &re) || re.Field != c.field:
			t.Errorf("adding %s after %v: got %v (field %q), want a RouteError on %s", c.add, c.existing, err, fieldOf(re), c.field)
		}
		if n := len(tab.entries); n != len(c.existing) {
			t.Errorf("adding %s after %v: the table has %d routes, want %d (unchanged)", c.add, c.existing, n, len(c.existing))
		}
	}
}

func fieldOf(re *RouteError) string {
	if re == nil {
		return ""
	}
	return re.Field
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		r     Route
		field string // "" for valid
	}{
		{Route{Method: "GET", Path: "/x", Act: "role:a,cmd:b"}, ""},
		{Route{Method: "GET", Path: "/x", Function: "hello", Qualifier: "prod", Format: "2.0"}, ""},
		{Route{Method: "GET", Path: "/x"}, "function"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", Function: "f"}, "act"},
		{Route{Method: "GET", Path: "/x", Function: "bad name"}, "function"},
		{Route{Method: "GET", Path: "/x", Function: "f", Qualifier: "a:b"}, "qualifier"},
		{Route{Method: "GET", Path: "/x", Function: "f", Format: "3.0"}, "format"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", Qualifier: "1"}, "qualifier"},
		{Route{Method: "GET", Path: "/x", Act: "role:*"}, "act"},
		{Route{Method: "GET", Path: "/x", Act: "role:a,timeout$:5"}, "act"},
		{Route{Method: "GET", Path: "/x", Act: "role:{a:1}"}, "act"},
		{Route{Method: "GET", Path: "/x", Act: "   "}, "act"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", Timeout: -1}, "timeout"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", RateLimit: &RateLimit{Rate: 0}}, "rateLimit"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", RateLimit: &RateLimit{Rate: 1, Burst: -1}}, "rateLimit"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", CORS: &CORS{MaxAge: -1}}, "cors"},
		{Route{Method: "GET", Path: "/x", Act: "role:a", CORS: &CORS{AllowMethods: []string{"FETCH"}}}, "cors"},
	} {
		err := c.r.Validate()
		var re *RouteError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", c.r, err)
		case c.field != "" && (!errors.As(err, &re) || re.Field != c.field):
			t.Errorf("Validate(%+v) = %v, want a RouteError on %s", c.r, err, c.field)
		}
	}
}

func TestParseRoute(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"GET:/hello", "GET /hello"},
		{"GET /hello", "GET /hello"},
		{"post:/users/{id}", "POST /users/{id}"},
		{"/hello", "ANY /hello"},
		{"ANY:/{proxy+}", "ANY /{proxy+}"},
		{"*:/x", "ANY /x"},
	} {
		r, err := ParseRoute(c.in)
		if err != nil {
			t.Errorf("ParseRoute(%q) = %v, want %s", c.in, err, c.want)
			continue
		}
		if got := r.Key(); got != c.want {
			t.Errorf("ParseRoute(%q).Key() = %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []string{"", "GET", "hello", "GET:hello", "GET:/a b"} {
		if r, err := ParseRoute(in); err == nil {
			t.Errorf("ParseRoute(%q) = %s, want an error", in, r.Key())
		}
	}
}

// TestBuildTablePrecedence: a later group's route with an earlier route's
// key or shape is left out and reported; the others are in.
func TestBuildTablePrecedence(t *testing.T) {
	static := []Route{actRoute("GET /health-of-app")}
	stored := []Route{actRoute("GET /users/{id}"), actRoute("GET /hello")}
	fns := []Route{
		{Method: "GET", Path: "/hello", Function: "hello", Source: "function:hello"},
		{Method: "GET", Path: "/users/{name}", Function: "users", Source: "function:users"},
		{Method: "GET", Path: "/fn-only", Function: "other", Source: "function:other"},
	}
	tab := buildTable(static, stored, fns)
	var keys []string
	for _, r := range tab.routes() {
		keys = append(keys, r.Key()+" "+r.Function)
	}
	if got, want := strings.Join(keys, "|"), "GET /fn-only other|GET /health-of-app |GET /hello |GET /users/{id} "; got != want {
		t.Errorf("routes = %q, want %q", got, want)
	}
	if len(tab.skipped) != 2 {
		t.Fatalf("skipped %d routes, want 2: %+v", len(tab.skipped), tab.skipped)
	}
	if !errors.Is(tab.skipped[0].err, ErrDuplicate) || !errors.Is(tab.skipped[1].err, ErrAmbiguous) {
		t.Errorf("skipped errors = %v, %v; want duplicate, ambiguous", tab.skipped[0].err, tab.skipped[1].err)
	}
}

func keyOf(e *entry) string {
	if e == nil {
		return ""
	}
	return e.Key()
}

// matchSlow is the reference matcher: it tries every route, keeps those
// that match, and picks the most specific by the package's order.
func matchSlow(routes []Route, method string, segs []string) string {
	var best *Route
	var bestT template
	for i := range routes {
		r := &routes[i]
		m := normMethod(r.Method)
		if method != "" && m != method && m != MethodAny {
			continue
		}
		t, err := parseTemplate(r.Path)
		if err != nil || !matchesSlow(t, segs) {
			continue
		}
		if best == nil || moreSpecific(t, m, bestT, normMethod(best.Method), method) {
			best, bestT = r, t
		}
	}
	if best == nil {
		return ""
	}
	return best.Key()
}

func matchesSlow(t template, segs []string) bool {
	for i, s := range t {
		switch s.kind {
		case segGreedy:
			return i < len(segs) // the rest, one segment or more
		case segParam:
			if i >= len(segs) || segs[i] == "" {
				return false
			}
		case segLiteral:
			if i >= len(segs) || segs[i] != s.text {
				return false
			}
		}
	}
	return len(t) == len(segs)
}

// moreSpecific reports whether template a (of method am) beats b (of bm)
// for a request of method want.
func moreSpecific(a template, am string, b template, bm string, want string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].kind != b[i].kind {
			return a[i].kind < b[i].kind
		}
	}
	if len(a) != len(b) {
		return len(a) > len(b) // never happens for two matching templates
	}
	if want == "" { // any method: the first in the order of methods, then ANY
		return methodRank(am) < methodRank(bm)
	}
	return am == want && bm != want
}

func methodRank(m string) int {
	for i, x := range methods {
		if x == m {
			return i
		}
	}
	return len(methods)
}

// TestAppendSegments holds appendSegments, into a request's array or not,
// to splitting with strings.Split.
func TestAppendSegments(t *testing.T) {
	split := func(escaped string) ([]string, bool) {
		p := strings.TrimSuffix(strings.TrimPrefix(escaped, "/"), "/")
		if p == "" {
			return nil, true
		}
		segs := strings.Split(p, "/")
		for i, s := range segs {
			u, err := url.PathUnescape(s)
			if err != nil {
				return nil, false
			}
			segs[i] = u
		}
		return segs, true
	}
	for _, path := range []string{"", "/", "//", "/a", "/a/", "a/b", "/a//b", "/a/b/c/d/e/f/g/h/i/j", "/a%2Fb/c", "/%zz", "/a/%41%20", "///x///"} {
		want, wantOK := split(path)
		var buf [2]string
		for _, dst := range [][]string{nil, buf[:0]} {
			got, ok := appendSegments(dst, path)
			if ok != wantOK || !slices.Equal(got, want) {
				t.Errorf("appendSegments(%d-cap buffer, %q) = %q, %v; want %q, %v", cap(dst), path, got, ok, want, wantOK)
			}
		}
	}
}
