package gateway

import (
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
)

// table is an immutable route table: a trie of path segments, rebuilt
// whenever a route changes and swapped in whole, so that a request reads it
// without a lock.
//
// The order in which routes answer (see the package doc, "Which route
// answers"): segment by segment from the left, a literal beats a
// {param}, which beats a {greedy+}; for the same path, a route naming the
// method beats ANY. The trie is walked depth first in that order, with
// backtracking, so the first route found is the most specific.
type table struct {
	root    node
	entries []*entry          // in the order added
	byKey   map[string]*entry // Route.Key → entry
	byShape map[string]*entry // method + shape → entry
	skipped []Conflict        // routes refused when the table was built
}

// entry is a route compiled into the table.
type entry struct {
	Route
	tmpl  template
	shape string
	key   string         // Key()
	rid   string         // resourceID()
	msg   map[string]any // an act route's pattern keys
	state *routeState    // limiter and metrics, kept across rebuilds
}

type node struct {
	literal map[string]*node
	param   *node
	greedy  *node // a leaf: the rest of the path
	routes  map[string]*entry
}

// Conflict is a route left out of the table because another took its
// place first; Server.Conflicts lists them.
type Conflict struct {
	Route Route  `json:"route"` // the route left out, with its Source
	Error string `json:"error"` // why: the route it collides with, and how
	err   error
}

func newTable() *table {
	return &table{byKey: map[string]*entry{}, byShape: map[string]*entry{}}
}

// compile checks r and compiles it into an entry.
func compile(r Route) (*entry, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.Method = normMethod(r.Method)
	t, err := parseTemplate(r.Path)
	if err != nil {
		return nil, err
	}
	e := &entry{Route: r, tmpl: t, shape: r.Method + " " + t.shape(), key: r.Key()}
	e.rid = e.resourceID()
	if r.Act != "" {
		e.msg, err = parsePattern(r.Act)
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// add puts r in the table. It fails, changing nothing, if r is invalid, if
// the table holds r's key already (ErrDuplicate), or a route of the same
// method and shape with other parameter names (ErrAmbiguous).
func (t *table) add(r Route) (*entry, error) {
	e, err := compile(r)
	if err != nil {
		return nil, err
	}
	return e, t.insert(e)
}

func (t *table) insert(e *entry) error {
	if old := t.byKey[e.Key()]; old != nil {
		return &RouteError{Key: e.Key(), Field: "path", Err: fmt.Errorf("%w: %s already routes it (%s)", ErrDuplicate, describeSource(old.Source), old.Key())}
	}
	if old := t.byShape[e.shape]; old != nil {
		return &RouteError{Key: e.Key(), Field: "path", Err: fmt.Errorf("%w: it matches exactly the requests %s (from %s) matches; parameter names differ, so neither can win", ErrAmbiguous, old.Key(), describeSource(old.Source))}
	}
	n := &t.root
	for _, s := range e.tmpl {
		switch s.kind {
		case segLiteral:
			if n.literal == nil {
				n.literal = map[string]*node{}
			}
			c := n.literal[s.text]
			if c == nil {
				c = &node{}
				n.literal[s.text] = c
			}
			n = c
		case segParam:
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
		case segGreedy:
			if n.greedy == nil {
				n.greedy = &node{}
			}
			n = n.greedy
		}
	}
	if n.routes == nil {
		n.routes = map[string]*entry{}
	}
	n.routes[e.Method] = e
	t.byKey[e.Key()] = e
	t.byShape[e.shape] = e
	t.entries = append(t.entries, e)
	return nil
}

func describeSource(s string) string {
	if s == "" {
		return "another route"
	}
	return s
}

// splitPath splits a request's escaped path into percent-decoded segments.
// A trailing slash is dropped ("/users/" is "/users"); "/" has none.
func splitPath(escaped string) ([]string, bool) {
	return appendSegments(nil, escaped)
}

// appendSegments is splitPath appending to dst (a request's own array), so
// that a short path needs no allocation.
func appendSegments(dst []string, escaped string) ([]string, bool) {
	p := strings.TrimPrefix(escaped, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, true
	}
	segs := dst
	for {
		s, rest, more := strings.Cut(p, "/")
		if strings.IndexByte(s, '%') >= 0 {
			u, err := url.PathUnescape(s)
			if err != nil {
				return nil, false
			}
			s = u
		}
		segs = append(segs, s)
		if !more {
			return segs, true
		}
		p = rest
	}
}

// match returns the route answering method on a path split by splitPath,
// or nil. With method "" it returns the most specific route of any method,
// which tells 405 from 404.
func (t *table) match(method string, segs []string) *entry {
	return t.root.match(method, segs, 0)
}

func (n *node) match(method string, segs []string, i int) *entry {
	if i == len(segs) {
		return n.pick(method)
	}
	if c := n.literal[segs[i]]; c != nil {
		if e := c.match(method, segs, i+1); e != nil {
			return e
		}
	}
	if n.param != nil && segs[i] != "" {
		if e := n.param.match(method, segs, i+1); e != nil {
			return e
		}
	}
	if n.greedy != nil {
		if e := n.greedy.pick(method); e != nil {
			return e
		}
	}
	return nil
}

// pick chooses among the routes of one path: the method's, else ANY's.
func (n *node) pick(method string) *entry {
	if n.routes == nil {
		return nil
	}
	if method == "" {
		for _, m := range append(methods[:len(methods):len(methods)], MethodAny) {
			if e := n.routes[m]; e != nil {
				return e
			}
		}
		return nil
	}
	if e := n.routes[method]; e != nil {
		return e
	}
	return n.routes[MethodAny]
}

// allowed lists the methods some route answers on the path, for a 405's
// Allow header.
func (t *table) allowed(segs []string) []string {
	var out []string
	for _, m := range methods {
		if t.match(m, segs) != nil {
			out = append(out, m)
		}
	}
	return out
}

// params returns the path parameters of e for the request's segments, or
// nil when the template has none.
func (e *entry) params(segs []string) map[string]string {
	var p map[string]string
	for k, v := range e.pathParams(segs) {
		if p == nil {
			p = make(map[string]string, len(e.tmpl))
		}
		p[k] = v
	}
	return p
}

// pathParams yields each path parameter of e, name and value, for the
// request's segments: a {name} segment's own, a {name+} the rest of the
// path.
func (e *entry) pathParams(segs []string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i, s := range e.tmpl {
			switch s.kind {
			case segParam:
				if !yield(s.text, segs[i]) {
					return
				}
			case segGreedy:
				if !yield(s.text, strings.Join(segs[i:], "/")) {
					return
				}
			}
		}
	}
}

// buildTable makes a table from routes in order of precedence: a route
// whose key or shape an earlier one holds is left out and reported.
func buildTable(groups ...[]Route) *table {
	t := newTable()
	for _, g := range groups {
		for _, r := range g {
			if _, err := t.add(r); err != nil {
				t.skipped = append(t.skipped, Conflict{Route: r, Error: err.Error(), err: err})
			}
		}
	}
	return t
}

// routes lists the routes of the table, sorted by key.
func (t *table) routes() []Route {
	out := make([]Route, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e.Route)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}
