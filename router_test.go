package stoa

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// refPattern is a pattern for the reference matcher: sorted fields.
type refPattern struct {
	fields []field
	id     int
}

// refFind is a slow reference for router.find. It never builds a trie: at
// every step it derives the node patrun's trie would have from the set of
// patterns still in play (the smallest first key is the node's key; its
// exact values and globs, globs in the order first added, are the edges;
// the patterns whose first key sorts later are the star branch), then
// walks as patrun walks. Agreement between the two checks the trie's
// insertion, the subtle half of patrun.
func refFind(pats []refPattern, msg Msg) int {
	// split derives the node for a set of patterns.
	type derived struct {
		end    int // id answering at this node, -1 if none
		keyed  bool
		key    string
		vals   map[string][]refPattern
		globs  []string
		globAt map[string][]refPattern
		star   []refPattern
	}
	split := func(ps []refPattern) derived {
		d := derived{end: -1, vals: map[string][]refPattern{}, globAt: map[string][]refPattern{}}
		for _, p := range ps {
			if len(p.fields) == 0 {
				d.end = max(d.end, p.id) // the later add replaces
				continue
			}
			if !d.keyed || jsLess(p.fields[0].key, d.key) {
				d.key, d.keyed = p.fields[0].key, true
			}
		}
		for _, p := range ps {
			if len(p.fields) == 0 {
				continue
			}
			f := p.fields[0]
			rest := refPattern{fields: p.fields[1:], id: p.id}
			switch {
			case f.key != d.key:
				d.star = append(d.star, p)
			case isGlob(f.val):
				if _, ok := d.globAt[f.val]; !ok {
					d.globs = append(d.globs, f.val)
				}
				d.globAt[f.val] = append(d.globAt[f.val], rest)
			default:
				d.vals[f.val] = append(d.vals[f.val], rest)
			}
		}
		return d
	}
	// ps is sorted by id, so globs appear in the order first added.
	cur := slices.Clone(pats)
	slices.SortFunc(cur, func(a, b refPattern) int { return a.id - b.id })
	top := split(cur)
	found := top.end
	var stars [][]refPattern
	var n *derived = &top
	for n != nil {
		var next []refPattern
		matched := false
		if n.keyed {
			v, present := msg[n.key]
			s := "undefined"
			if present {
				s = jsString(v)
			}
			if ps, ok := n.vals[s]; ok {
				next, matched = ps, true
			} else {
				for _, g := range n.globs {
					if refGlob(g, v, present) {
						next, matched = n.globAt[g], true
						break
					}
				}
			}
			if !matched && protoNames[s] {
				next, matched = nil, true
				if len(n.star) > 0 {
					stars = append(stars, n.star)
				}
				n = nil
			} else if matched {
				if len(n.star) > 0 {
					stars = append(stars, n.star)
				}
				d := split(next)
				if d.end >= 0 {
					found = d.end
				}
				n = &d
			} else if len(n.star) > 0 {
				d := split(n.star)
				n = &d
			} else {
				n = nil
			}
		} else {
			n = nil
		}
		if n == nil && len(stars) > 0 && found < 0 {
			d := split(stars[len(stars)-1])
			stars = stars[:len(stars)-1]
			n = &d
		}
	}
	return found
}

// decodeFuzz turns fuzz text into patterns and a message over a small
// alphabet, so that collisions (shared keys, equal values) are common.
// pins: patterns separated by ';', fields "k=v" separated by ','.
func decodeFuzz(pins, msg string) ([]refPattern, Msg) {
	var pats []refPattern
	for i, p := range strings.Split(pins, ";") {
		if i >= 12 {
			break
		}
		seen := map[string]bool{}
		var fs []field
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || seen[k] {
				continue
			}
			seen[k] = true
			fs = append(fs, field{key: k, val: v})
		}
		slices.SortFunc(fs, func(a, b field) int { return jsCompare(a.key, b.key) })
		pats = append(pats, refPattern{fields: fs, id: i})
	}
	m := Msg{}
	for _, kv := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return pats, m
}

func routerFind(pats []refPattern, msg Msg) int {
	var r router
	for _, p := range pats {
		r.add(p.fields, &action{pattern: fmt.Sprint(p.id), h: nil, plugin: fmt.Sprint(p.id)})
	}
	a := r.find(msg)
	if a == nil {
		return -1
	}
	var id int
	fmt.Sscan(a.plugin, &id)
	return id
}

func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"a=1;a=1,b=2", "a=1,b=2"},
		{"a=1,d=4;b=2,c=3", "a=1,b=2,c=3,d=5"},
		{"a=1;b=2,c=3", "a=1,b=2,c=3"},
		{"a=x*;a=*y", "a=xy"},
		{"a=*,b=2;a=1", "a=1,b=2"},
		{";a=1", "a=1"},
		{"a=1,d=4;b=2,c=3;", "a=1,b=2,c=3,d=5"},
		{"c=1;b=1;a=1;a=1,c=1;B=1", "a=1,B=1,c=1"},
		{"a=1,b=1,c=1;a=1,c=2;c=3", "a=1,b=1,c=3"},
		{"a=constructor;b=1", "a=toString,b=1"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pins, msg string) {
		pats, m := decodeFuzz(pins, msg)
		if got, want := routerFind(pats, m), refFind(pats, m); got != want {
			t.Errorf("find(%q, %q) = %d, reference %d", pins, msg, got, want)
		}
	})
}

// TestMatchRandom runs the fuzz property on many random inputs over a tiny
// alphabet on every test run, where the fuzzer's corpus is not used.
func TestMatchRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d", "B"}
	vals := []string{"1", "2", "x", "x*", "*", "?", "1*"}
	for range 20000 {
		var pins []string
		for range 1 + r.IntN(7) {
			var fs []string
			for _, k := range keys {
				if r.IntN(3) == 0 {
					fs = append(fs, k+"="+vals[r.IntN(len(vals))])
				}
			}
			pins = append(pins, strings.Join(fs, ","))
		}
		var ms []string
		for _, k := range keys {
			if r.IntN(4) != 0 {
				ms = append(ms, k+"="+[]string{"1", "2", "x", "xy", "3"}[r.IntN(5)])
			}
		}
		p, m := strings.Join(pins, ";"), strings.Join(ms, ",")
		pats, msg := decodeFuzz(p, m)
		if got, want := routerFind(pats, msg), refFind(pats, msg); got != want {
			t.Fatalf("find(%q, %q) = %d, reference %d", p, m, got, want)
		}
	}
}

func TestJSNumber(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1, "-1"}, {1.5, "1.5"}, {0.1, "0.1"}, {1e21, "1e+21"},
		{1e20, "100000000000000000000"}, {123456789012345680000, "123456789012345680000"},
		{0.000001, "0.000001"}, {1e-7, "1e-7"}, {1.5e-7, "1.5e-7"}, {-2.5e25, "-2.5e+25"},
		{12345678901234567890, "12345678901234567000"}, {0.30000000000000004, "0.30000000000000004"},
		{1e15, "1000000000000000"}, {123.456, "123.456"}, {5e-324, "5e-324"},
	} {
		if got := jsNumber(c.in); got != c.want {
			t.Errorf("jsNumber(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJSLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"B", "a", true}, {"a", "B", false}, {"10", "9", true}, {"a", "ab", true},
		{"\uffff", "😀", false}, {"😀", "\uffff", true}, {"é", "z", false}, {"_", "a", true},
	} {
		if got := jsLess(c.a, c.b); got != c.want {
			t.Errorf("jsLess(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// globRegexp is the slow reference for a glob: the regexp gex builds,
// '*' as ".*" and '?' as "." over the whole value, as the engine matched
// globs before it walked them itself.
func globRegexp(g *glob) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, t := range g.toks {
		switch t.kind {
		case globStar:
			b.WriteString(`.*`)
		case globOne:
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(t.r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

// refGlob is glob.match with globRegexp in place of the walk.
func refGlob(src string, v any, present bool) bool {
	g := compileGlob(src)
	if !present || v == nil {
		return false
	}
	if isCompound(v) {
		return true
	}
	return globRegexp(g).MatchString(jsString(v))
}

// FuzzGlob: the glob walk agrees with the regexp on any glob and value,
// invalid UTF-8 included.
func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"x*", "xyz"}, {"*a*b?c*", "zzaxxbbcbyc"}, {"?", "é"}, {"a?c", "a\xffc"}, {"\xff*", "\xff\xfe"},
		{"*\n*", "a\nb"}, {"x**", "x*"}, {"x*?", "x?"}, {"**?*", "*?"}, {"\uFFFD", "\xff"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, src, s string) {
		g := compileGlob(src)
		if got, want := g.matchString(s), globRegexp(g).MatchString(s); got != want {
			t.Errorf("glob %q on %q = %v, regexp %v", src, s, got, want)
		}
	})
}

// TestGlobRandom runs FuzzGlob's property on random globs and values over
// a small alphabet (with a multi-byte rune and an invalid byte) on every
// test run.
func TestGlobRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alpha := []string{"a", "b", "*", "?", "é", "\xff", "\n"}
	word := func(n int) string {
		var b strings.Builder
		for range r.IntN(n) {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 20000 {
		src, s := word(7), word(9)
		g := compileGlob(src)
		if got, want := g.matchString(s), globRegexp(g).MatchString(s); got != want {
			t.Fatalf("glob %q on %q = %v, regexp %v", src, s, got, want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		glob, val string
		want      bool
	}{
		{"x*", "xyz", true}, {"x*", "yx", false}, {"?", "z", true}, {"?", "zz", false},
		{"*", "", true}, {"x**", "x*", true}, {"x**", "xy", false}, {"x*?", "x?", true},
		{"x*?", "xy", false}, {"x?*", "xy", true}, {"x?*", "x", false}, {"a.b*", "axbc", false},
		{"a.b*", "a.bc", true}, {"(*)", "(x)", true}, {"*\n*", "a\nb", true}, {"[*]", "[1]", true},
	} {
		if got := compileGlob(c.glob).match(c.val, true); got != c.want {
			t.Errorf("glob %q on %q = %v, want %v", c.glob, c.val, got, c.want)
		}
	}
	g := compileGlob("*")
	if g.match(nil, true) || g.match(nil, false) {
		t.Error("glob * matched null or a missing value")
	}
	if !g.match([]any{1}, true) || !compileGlob("zzz").match(map[string]any{}, true) {
		t.Error("a glob did not match an array or an object, as gex does")
	}
}

// TestRemoveRandom checks that removing patterns leaves a trie that
// answers as one built from the remaining patterns alone. (One glob value
// only: among globs the first added wins, and a glob edge keeps its place
// when the pattern that made it is removed.)
func TestRemoveRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := []string{"a", "b", "c", "d"}
	vals := []string{"1", "2", "x*"}
	for range 3000 {
		var pats []refPattern
		seen := map[string]bool{}
		for id := range 1 + r.IntN(8) {
			var fs []field
			for _, k := range keys {
				if r.IntN(2) == 0 {
					fs = append(fs, field{key: k, val: vals[r.IntN(len(vals))]})
				}
			}
			if sig := fmt.Sprint(fs); !seen[sig] {
				seen[sig] = true
				pats = append(pats, refPattern{fields: fs, id: id})
			}
		}
		var full router
		for _, p := range pats {
			full.add(p.fields, &action{plugin: fmt.Sprint(p.id)})
		}
		var kept []refPattern
		for _, p := range pats {
			if r.IntN(2) == 0 {
				if a := full.remove(p.fields); a == nil || a.plugin != fmt.Sprint(p.id) {
					t.Fatalf("remove(%v) = %v, want pattern %d", p.fields, a, p.id)
				}
				continue
			}
			kept = append(kept, p)
		}
		for range 20 {
			msg := Msg{}
			for _, k := range keys {
				if r.IntN(3) != 0 {
					msg[k] = []string{"1", "2", "x", "xy"}[r.IntN(4)]
				}
			}
			got := -1
			if a := full.find(msg); a != nil {
				fmt.Sscan(a.plugin, &got)
			}
			if want := routerFind(kept, msg); got != want {
				t.Fatalf("after removals: find(%v) = %d, fresh trie of %v says %d", msg, got, kept, want)
			}
		}
	}
}
