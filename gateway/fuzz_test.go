package gateway

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// routesFromProgram turns fuzz bytes into routes over a small alphabet, so
// that the routes collide often: each byte's low 3 bits add a segment to
// the route being built (0–2 a literal a, b or c; 3 a {param}, named x or
// y by bit 3, so that two routes may differ only in names), or end it
// (4 with a {greedy+}, 5 and 6 plainly, 7 as the root), with the method
// given by bits 4–5 (ANY, GET, POST, GET).
func routesFromProgram(prog []byte) []Route {
	var routes []Route
	var segs []string
	end := func(b byte) {
		method := []string{MethodAny, "GET", "POST", "GET"}[(b>>4)&3]
		routes = append(routes, Route{Method: method, Path: "/" + strings.Join(segs, "/"), Act: "role:fuzz"})
		segs = segs[:0]
	}
	name := func(b byte) string { return string(rune('x'+(b>>3)&1)) + strconv.Itoa(len(segs)) }
	for _, b := range prog {
		switch b & 7 {
		case 0, 1, 2:
			segs = append(segs, string(rune('a'+b&7)))
		case 3:
			segs = append(segs, "{"+name(b)+"}")
		case 4:
			segs = append(segs, "{"+name(b)+"+}")
			end(b)
		case 5, 6:
			end(b)
		case 7:
			segs = segs[:0]
			end(b)
		}
		if len(routes) > 32 {
			break
		}
	}
	return routes
}

// FuzzMatch checks the trie against the reference matcher: whatever routes
// the table takes, every request routes to the route matchSlow picks among
// them, and the table refuses exactly the routes of a key or shape it
// already has.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 5, 0, 3, 5, 0, 4, 7}, "/a/b")
	f.Add([]byte{3, 1, 5, 0, 11, 5, 4, 0, 3, 2, 22}, "/a/b/c")
	f.Add([]byte{0, 1, 2, 21, 0, 3, 2, 37, 4, 0, 12}, "/a/b/c/d")
	f.Add([]byte{3, 3, 5, 11, 11, 5, 0, 3, 4}, "/a/a")
	f.Add([]byte{7, 23, 4, 20}, "/")
	f.Add([]byte{0, 1, 5, 0, 1, 21, 0, 1, 37}, "/a/b/")
	f.Fuzz(func(t *testing.T, prog []byte, path string) {
		if len(prog) > 256 || len(path) > 256 {
			return
		}
		segs, ok := splitPath(path)
		if !ok {
			return
		}
		tab := newTable()
		var accepted []Route
		for _, r := range routesFromProgram(prog) {
			_, err := tab.add(r)
			wantErr := refusesSlow(accepted, r)
			switch {
			case err == nil && wantErr != nil:
				t.Fatalf("add(%s) after %v = nil, want %v", r.Key(), keys(accepted), wantErr)
			case err != nil && wantErr == nil:
				t.Fatalf("add(%s) after %v = %v, want nil", r.Key(), keys(accepted), err)
			case err != nil && wantErr != errInvalidTemplate && !errors.Is(err, wantErr):
				t.Fatalf("add(%s) after %v = %v, want %v", r.Key(), keys(accepted), err, wantErr)
			}
			if err == nil {
				accepted = append(accepted, r)
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", ""} {
			got, want := keyOf(tab.match(m, segs)), matchSlow(accepted, m, segs)
			if got != want {
				t.Fatalf("routes %v, %q %s: got %q, want %q", keys(accepted), m, path, got, want)
			}
		}
	})
}

// refusesSlow is the reference for what add refuses: a route whose key an
// accepted route has (ErrDuplicate), else one of the same method whose
// template has the same kinds and literals (ErrAmbiguous).
func refusesSlow(accepted []Route, r Route) error {
	t, err := parseTemplate(r.Path)
	if err != nil {
		return errInvalidTemplate
	}
	for _, a := range accepted {
		if a.Key() == r.Key() {
			return ErrDuplicate
		}
	}
	for _, a := range accepted {
		if normMethod(a.Method) != normMethod(r.Method) {
			continue
		}
		at, _ := parseTemplate(a.Path)
		if len(at) != len(t) {
			continue
		}
		same := true
		for i := range at {
			if at[i].kind != t[i].kind || at[i].kind == segLiteral && at[i].text != t[i].text {
				same = false
			}
		}
		if same {
			return ErrAmbiguous
		}
	}
	return nil
}

// errInvalidTemplate stands for any error of parseTemplate.
var errInvalidTemplate = errors.New("invalid template")

func keys(rs []Route) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Key()
	}
	return out
}

// FuzzParseTemplate: any template that parses re-parses to itself from its
// own text, and has one greedy segment at most, last.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range append(routingTable, "GET /a/{x}/{x}", "GET /{p+}/a", "GET /a b", "GET /") {
		_, p, _ := strings.Cut(s, " ")
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tm, err := parseTemplate(p)
		if err != nil {
			return
		}
		var b strings.Builder
		for i, s := range tm {
			b.WriteByte('/')
			switch s.kind {
			case segLiteral:
				b.WriteString(s.text)
			case segParam:
				b.WriteString("{" + s.text + "}")
			case segGreedy:
				if i != len(tm)-1 {
					t.Fatalf("parseTemplate(%q): greedy segment %d of %d", p, i, len(tm))
				}
				b.WriteString("{" + s.text + "+}")
			}
		}
		if b.Len() == 0 {
			b.WriteByte('/')
		}
		if b.String() != p {
			t.Fatalf("parseTemplate(%q) rewrites as %q", p, b.String())
		}
	})
}
