package stoa

import (
	"slices"
	"unicode/utf8"
)

// The router is patrun's trie (Seneca 3.38, patrun 7.3), kept node for node
// so that every answer, including the surprising ones, is Seneca's. See
// RATIONALE.md for why we copy its walk rather than score patterns.
//
// Each node tests one key. Patterns are inserted with their keys in sorted
// order; a node's star branch holds the patterns that do not have that key.
// A lookup follows the message's value for the node's key (an exact value
// first, then the first-added glob that matches, else the star branch),
// remembers every complete pattern it passes, and backtracks to the most
// recent star branch only while it has no answer.

type node struct {
	key   string
	keyed bool             // the node tests key
	vals  map[string]*node // exact values of key
	globs []globEdge       // glob values of key, in the order added
	star  *node            // patterns without key
	act   *action          // the pattern that ends here
}

type globEdge struct {
	g    *glob
	next *node
}

// router holds the trie; it is not safe for concurrent use on its own.
type router struct {
	top node
}

// field is one key of a pattern with its value as a string.
type field struct{ key, val string }

// add stores act under fields, which must be sorted by jsLess on key.
func (r *router) add(fields []field, act *action) {
	n := &r.top
	for i := 0; i < len(fields); i++ {
		key, val := fields[i].key, fields[i].val
		switch {
		case n.keyed && key == n.key:
			n = n.child(val)
		case !n.keyed:
			n.key, n.keyed, n.vals = key, true, map[string]*node{}
			n = n.child(val)
		case jsLess(key, n.key):
			// The new key sorts first: the node's current test moves down
			// to a new star node, and the node tests the new key.
			moved := &node{key: n.key, keyed: true, vals: n.vals, globs: n.globs, star: n.star}
			n.star = moved
			n.key, n.vals, n.globs = key, map[string]*node{}, nil
			n = n.child(val)
		default:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
			i-- // the key is still to be placed
		}
	}
	n.act = act
}

// remove takes out the action stored under exactly fields (sorted) and
// returns it, or nil when there is none. Branches left empty are pruned, so
// that the trie answers as if the pattern had never been added (patrun
// leaves them, and a dead branch then hides its siblings).
func (r *router) remove(fields []field) *action {
	type step struct {
		from *node
		val  string // the edge taken; "" with star
		star bool
	}
	var path []step
	n := &r.top
	for i := 0; i < len(fields); {
		key, val := fields[i].key, fields[i].val
		switch {
		case !n.keyed || jsLess(key, n.key):
			return nil
		case key == n.key:
			path = append(path, step{from: n, val: val})
			if n = n.lookup(val); n == nil {
				return nil
			}
			i++
		default:
			path = append(path, step{from: n, star: true})
			if n = n.star; n == nil {
				return nil
			}
		}
	}
	a := n.act
	if a == nil {
		return nil
	}
	n.act = nil
	for k := len(path) - 1; k >= 0 && n.empty(); k-- {
		p := path[k]
		p.from.cut(p.val, p.star)
		n = p.from
	}
	return a
}

func (n *node) empty() bool {
	return n.act == nil && len(n.vals) == 0 && len(n.globs) == 0 && n.star == nil
}

// cut removes the edge to an empty child; a node left with no value of its
// key takes over its star branch's test.
func (n *node) cut(val string, star bool) {
	switch {
	case star:
		n.star = nil
	case isGlob(val):
		n.globs = slices.DeleteFunc(n.globs, func(e globEdge) bool { return e.g.src == val })
	default:
		delete(n.vals, val)
	}
	if n.keyed && len(n.vals) == 0 && len(n.globs) == 0 {
		if s := n.star; s != nil {
			// A star node never ends a pattern itself: Add always goes on
			// to place the key that sent it there.
			n.key, n.keyed, n.vals, n.globs, n.star = s.key, s.keyed, s.vals, s.globs, s.star
		} else {
			n.key, n.keyed, n.vals = "", false, nil
		}
	}
}

// exact returns the action stored under exactly fields (sorted), or nil.
func (r *router) exact(fields []field) *action {
	n := &r.top
	for i := 0; i < len(fields) && n != nil; {
		key, val := fields[i].key, fields[i].val
		switch {
		case !n.keyed || jsLess(key, n.key):
			return nil
		case key == n.key:
			n = n.lookup(val)
			i++
		default:
			n = n.star
		}
	}
	if n == nil {
		return nil
	}
	return n.act
}

// lookup returns the node under value val, without creating it.
func (n *node) lookup(val string) *node {
	if isGlob(val) {
		for _, e := range n.globs {
			if e.g.src == val {
				return e.next
			}
		}
		return nil
	}
	return n.vals[val]
}

// child returns the node under value val, creating it.
func (n *node) child(val string) *node {
	if isGlob(val) {
		for _, e := range n.globs {
			if e.g.src == val {
				return e.next
			}
		}
		e := globEdge{g: compileGlob(val), next: &node{}}
		n.globs = append(n.globs, e)
		return e.next
	}
	c := n.vals[val]
	if c == nil {
		c = &node{}
		n.vals[val] = c
	}
	return c
}

// dead stands for the value maps' inherited JavaScript properties: in
// patrun a message value such as "constructor" finds Object.prototype's
// member, which ends the path without an answer.
var dead = &node{}

// find returns the action for msg, or nil.
func (r *router) find(msg Msg) *action {
	n := &r.top
	found := r.top.act
	var buf [8]*node
	stars := buf[:0]
	for n != nil {
		if n.keyed {
			v, present := msg[n.key]
			var next *node
			var s string
			if present {
				s = jsString(v)
			} else {
				s = "undefined"
			}
			next = n.vals[s]
			if next == nil {
				for _, e := range n.globs {
					if e.g.match(v, present) {
						next = e.next
						break
					}
				}
			}
			if next == nil && protoNames[s] {
				next = dead
			}
			if next != nil {
				if n.star != nil {
					stars = append(stars, n.star)
				}
				if next.act != nil {
					found = next.act
				}
				n = next
			} else {
				n = n.star
			}
		} else {
			n = nil
		}
		if n == nil && len(stars) > 0 && found == nil {
			n = stars[len(stars)-1]
			stars = stars[:len(stars)-1]
		}
	}
	return found
}

// all lists the actions in the trie, each once.
func (r *router) all() []*action {
	var out []*action
	seen := map[*node]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.act != nil {
			out = append(out, n.act)
		}
		for _, c := range n.vals {
			walk(c)
		}
		for _, e := range n.globs {
			walk(e.next)
		}
		walk(n.star)
	}
	walk(&r.top)
	return out
}

// protoNames are the properties every JavaScript object inherits.
var protoNames = map[string]bool{
	"constructor": true, "__proto__": true, "hasOwnProperty": true,
	"isPrototypeOf": true, "propertyIsEnumerable": true, "toLocaleString": true,
	"toString": true, "valueOf": true, "__defineGetter__": true,
	"__defineSetter__": true, "__lookupGetter__": true, "__lookupSetter__": true,
}

// jsLess orders strings as JavaScript's default sort does: by UTF-16 code
// units, which differs from Go's byte order only above U+FFFF.
func jsLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		j := i // back up to the start of the rune both share so far
		for j > 0 && !utf8.RuneStart(a[j]) {
			j--
		}
		ra, _ := utf8.DecodeRuneInString(a[j:])
		rb, _ := utf8.DecodeRuneInString(b[j:])
		if ua, ub := utf16First(ra), utf16First(rb); ua != ub {
			return ua < ub
		}
		return ra < rb
	}
	return len(a) < len(b)
}

// utf16First is the first UTF-16 code unit of r.
func utf16First(r rune) rune {
	if r >= 0x10000 {
		return 0xD800 + (r-0x10000)>>10
	}
	return r
}
