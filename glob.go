package stoa

import (
	"strings"
	"unicode/utf8"
)

// isGlob reports whether a pattern value is a glob, as patrun decides:
// any '*' or '?' makes the whole value a glob.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?") }

// glob is a compiled pattern value with wildcards, following the gex
// library Seneca uses: '*' is any run of characters, '?' is one character,
// "**" is a literal '*' and "*?" a literal '?'. It is compiled once, when
// its pattern is added, and matched without a regexp (RATIONALE.md,
// "Globs").
type glob struct {
	src  string
	toks []globTok
}

// globTok is one element of a glob: a literal rune, '*' or '?'.
type globTok struct {
	kind globKind
	r    rune
}

type globKind int8

const (
	globLit globKind = iota
	globStar
	globOne
)

func compileGlob(src string) *glob {
	var toks []globTok
	for _, r := range src {
		switch r {
		case '*':
			toks = append(toks, globTok{kind: globStar})
		case '?':
			toks = append(toks, globTok{kind: globOne})
		default:
			toks = append(toks, globTok{kind: globLit, r: r})
		}
	}
	// gex rewrites its regexp twice, left to right: two stars in a row become
	// a literal '*'; then a star followed by a question mark becomes '?'.
	pass := func(in []globTok, a, b globKind, lit rune) []globTok {
		out := in[:0:0]
		for i := 0; i < len(in); i++ {
			if i+1 < len(in) && in[i].kind == a && in[i+1].kind == b {
				out = append(out, globTok{kind: globLit, r: lit})
				i++
				continue
			}
			out = append(out, in[i])
		}
		return out
	}
	toks = pass(toks, globStar, globStar, '*')
	toks = pass(toks, globStar, globOne, '?')
	return &glob{src: src, toks: toks}
}

// match reports whether a message value matches, as gex's on() does: a
// missing value or null never matches; arrays and objects always do (gex
// filters them and returns a non-null result); scalars match on their
// JavaScript string form.
func (g *glob) match(v any, present bool) bool {
	if !present || v == nil {
		return false
	}
	switch v.(type) {
	case []any, map[string]any, Msg:
		return true
	}
	if isCompound(v) {
		return true
	}
	return g.matchString(jsString(v))
}

// matchString reports whether the whole of s matches, rune by rune as a
// regexp reads it (an invalid UTF-8 byte is one U+FFFD). It is the usual
// wildcard walk: on a mismatch, the last star seen takes one more rune and
// the walk resumes after it, so it never backtracks further than that.
func (g *glob) matchString(s string) bool {
	p := g.toks
	pi, si := 0, 0
	star, starAt := -1, 0 // the last star's index in p, and where in s it stopped
	for si < len(s) {
		if pi < len(p) {
			switch t := p[pi]; t.kind {
			case globStar:
				star, starAt = pi, si
				pi++
				continue
			case globOne:
				_, w := utf8.DecodeRuneInString(s[si:])
				pi, si = pi+1, si+w
				continue
			default:
				r, w := rune(s[si]), 1
				if r >= utf8.RuneSelf {
					r, w = utf8.DecodeRuneInString(s[si:])
				}
				if r == t.r {
					pi, si = pi+1, si+w
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starAt:])
		starAt += w
		pi, si = star+1, starAt
	}
	for pi < len(p) && p[pi].kind == globStar {
		pi++
	}
	return pi == len(p)
}
