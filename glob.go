package stoa

import (
	"regexp"
	"strings"
)

// isGlob reports whether a pattern value is a glob, as patrun decides:
// any '*' or '?' makes the whole value a glob.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?") }

// glob is a compiled pattern value with wildcards, following the gex
// library Seneca uses: '*' is any run of characters, '?' is one character,
// "**" is a literal '*' and "*?" a literal '?'.
type glob struct {
	src string
	re  *regexp.Regexp
}

type globTok int8

const (
	globLit globTok = iota
	globStar
	globOne
)

func compileGlob(src string) *glob {
	type tok struct {
		kind globTok
		r    rune
	}
	var toks []tok
	for _, r := range src {
		switch r {
		case '*':
			toks = append(toks, tok{kind: globStar})
		case '?':
			toks = append(toks, tok{kind: globOne})
		default:
			toks = append(toks, tok{kind: globLit, r: r})
		}
	}
	// gex rewrites its regexp twice, left to right: two stars in a row become
	// a literal '*'; then a star followed by a question mark becomes '?'.
	pass := func(in []tok, a, b globTok, lit rune) []tok {
		out := in[:0:0]
		for i := 0; i < len(in); i++ {
			if i+1 < len(in) && in[i].kind == a && in[i+1].kind == b {
				out = append(out, tok{kind: globLit, r: lit})
				i++
				continue
			}
			out = append(out, in[i])
		}
		return out
	}
	toks = pass(toks, globStar, globStar, '*')
	toks = pass(toks, globStar, globOne, '?')
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, t := range toks {
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
	return &glob{src: src, re: regexp.MustCompile(b.String())}
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
	return g.re.MatchString(jsString(v))
}
