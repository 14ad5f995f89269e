package stoa

// A port of the string-pattern parser Seneca 3.38 uses: jsonic 2.16.0 with
// its default options (seneca.util.Jsonic is require('jsonic')).
//
// Rather than a hand-written grammar, this is a transcription of jsonic's
// own machinery, so that its odd corners come out the same:
//
//   - the lexer (lexer.js): matchers tried in the order fixed, space, line,
//     string, comment, number, text, on UTF-16 code units like JavaScript;
//   - the rule engine (rules.js, parser.js): a stack of rule occurrences,
//     each trying its alternates in order against two tokens of lookahead,
//     with counters (pk, dmap, dlist), backtracking and push/replace/pop;
//   - the grammar (grammar.js): the val, map, list, pair and elem rules with
//     the jsonic extensions appended exactly as the JavaScript builds them;
//   - the value semantics that JSON.stringify makes visible: duplicate keys
//     deep-merged (utility.js deep), array "properties" ([1:x], [length:2],
//     [push:1]), names inherited from Object.prototype lexed as values
//     (a:toString → {a:null}), Infinity → null, holes → null.
//
// Departures, all on inputs no one writes: nesting is capped at
// jsonicMaxDepth containers and arrays built through index or length keys at
// jsonicMaxSlots elements (jsonic has no limits); keys holding lone UTF-16
// surrogates become U+FFFD; effects jsonic has on the JavaScript global state
// (a:1,a:{__proto__:{x:1}} writes x into Object.prototype and changes how
// later parses in the same process behave) are not reproduced.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// jsonicMaxDepth caps how many maps and lists may nest.
	jsonicMaxDepth = 64
	// jsonicMaxSlots caps how many array elements one parse may create
	// through index keys and length keys ([99999:x], [length:99999]).
	jsonicMaxSlots = 1 << 16
)

// parseJsonic parses a Seneca string pattern or message. The result holds
// only string, float64, bool, nil, map[string]any and []any: what
// JSON.stringify of jsonic's result gives after json.Unmarshal. An empty
// source (or only spaces and comments) gives an empty map. A source whose
// value is not an object (a:1 is one; "x", 1, [1] and a,b are not) is an error.
func parseJsonic(src string) (map[string]any, error) {
	v, defined, err := parseJsonicValue(src)
	if err != nil {
		return nil, err
	}
	if !defined {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("pattern is not an object: jsonic value is %s", jxTypeName(v))
	}
	return m, nil
}

func jxTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return "an object"
}

// jsonicError is a syntax error (or one of the limits above).
type jsonicError struct {
	code string // jsonic's error code: unexpected, unterminated_string, ...
	src  string // offending source text, if any
	row  int    // 1-based; 0 until the position is known
	col  int    // 1-based, in UTF-16 units as jsonic counts
}

func (e *jsonicError) Error() string {
	what := strings.ReplaceAll(e.code, "_", " ")
	switch e.code {
	case "invalid_ascii", "invalid_unicode":
		what += " escape"
	case "unprintable":
		what += " character"
	}
	if e.src != "" {
		s := e.src
		if utf8.RuneCountInString(s) > 24 {
			s = string([]rune(s)[:24]) + "..."
		}
		what += " " + strconv.Quote(s)
	}
	return fmt.Sprintf("%s at %d:%d", what, e.row, e.col)
}

// parseJsonicValue parses src as jsonic does and returns its value converted
// as JSON.stringify would; defined is false when jsonic returns undefined.
func parseJsonicValue(src string) (v any, defined bool, err error) {
	if src == "" {
		return nil, false, nil // lex.empty: '' gives undefined
	}
	units := utf16.Encode([]rune(src))
	p := &jparser{lx: &jlex{src: units}}
	node, err := p.run()
	if err != nil {
		return nil, false, err
	}
	if _, ok := node.(jxUndef); ok {
		return nil, false, nil
	}
	return jxToJSON(node), true, nil
}

// ---------------------------------------------------------------------------
// JavaScript values during the parse.

// jxUndef is JavaScript's undefined.
type jxUndef struct{}

// jxHole is a missing array element (what [1:x] leaves at index 0). It
// differs from undefined only in that for..in (and so deep) skips it.
type jxHole struct{}

// jxFunc stands for a function value: a method inherited from a prototype.
type jxFunc struct{}

// jxMap is a JavaScript object. The parser makes them with
// Object.create(null); deep copies them into {} (plain), which inherits
// Object.prototype's names.
type jxMap struct {
	m     map[string]any
	plain bool
}

// jxList is a JavaScript array, with the non-index properties jsonic can set
// on it ([a:1] sets property a); only push and length matter to the result.
type jxList struct {
	items []any // values, jxUndef or jxHole
	props map[string]any
}

func jxNewMap() *jxMap { return &jxMap{m: map[string]any{}} }

func jxIsObject(v any) bool {
	switch v.(type) {
	case *jxMap, *jxList, jxFunc:
		return true
	}
	return false
}

// jxObjectProto are the names every {} inherits from Object.prototype.
var jxObjectProto = map[string]bool{
	"constructor": true, "__defineGetter__": true, "__defineSetter__": true,
	"hasOwnProperty": true, "__lookupGetter__": true, "__lookupSetter__": true,
	"isPrototypeOf": true, "propertyIsEnumerable": true, "toString": true,
	"valueOf": true, "__proto__": true, "toLocaleString": true,
}

// jxArrayMethods are the function-valued names arrays inherit
// (Array.prototype in Node 20, then Object.prototype).
var jxArrayMethods = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`constructor at concat copyWithin fill find
		findIndex findLast findLastIndex lastIndexOf pop push reverse shift unshift
		slice sort splice includes indexOf join keys entries values forEach filter
		flat flatMap map every some reduce reduceRight toLocaleString toString
		toReversed toSorted toSpliced with`) {
		m[n] = true
	}
	for n := range jxObjectProto {
		if n != "__proto__" {
			m[n] = true
		}
	}
	return m
}()

// jxState holds what one parse may still allocate.
type jxState struct {
	slots int // array elements created by index and length keys
}

// jxLimitErr is an error found while building values; process gives it the
// position of the token at hand.
func jxLimitErr(code string) error { return &jsonicError{code: code} }

// jxIndex reports whether key is an array index ("0", "17"; not "01").
func jxIndex(key string) (int64, bool) {
	if key == "" || len(key) > 10 || (len(key) > 1 && key[0] == '0') {
		return 0, false
	}
	var n int64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n >= 1<<32-1 {
		return 0, false
	}
	return n, true
}

// jxGet is JavaScript's node[key].
func jxGet(node any, key string) (any, error) {
	switch o := node.(type) {
	case *jxMap:
		if v, ok := o.m[key]; ok {
			return v, nil
		}
		if o.plain && key == "__proto__" {
			// Object.prototype: merging into it behaves like a copy into {}
			// (and pollutes it, which is not reproduced); jxPut drops the key.
			return jxUndef{}, nil
		}
		if o.plain && jxObjectProto[key] {
			return jxFunc{}, nil
		}
		return jxUndef{}, nil
	case *jxList:
		if i, ok := jxIndex(key); ok {
			if i < int64(len(o.items)) {
				if _, hole := o.items[i].(jxHole); hole {
					return jxUndef{}, nil
				}
				return o.items[i], nil
			}
			return jxUndef{}, nil
		}
		if key == "length" {
			return float64(len(o.items)), nil
		}
		if v, ok := o.props[key]; ok {
			return v, nil
		}
		if jxArrayMethods[key] {
			return jxFunc{}, nil
		}
		return jxUndef{}, nil
	case jxFunc:
		return jxUndef{}, nil
	}
	return jxUndef{}, nil
}

// jxPut is JavaScript's node[key] = v (in strict mode).
func jxPut(st *jxState, node any, key string, v any) error {
	switch o := node.(type) {
	case *jxMap:
		if o.plain && key == "__proto__" {
			return nil // the __proto__ setter: never an own property
		}
		o.m[key] = v
	case *jxList:
		if i, ok := jxIndex(key); ok {
			if i >= int64(len(o.items)) {
				grow := i + 1 - int64(len(o.items))
				if int64(st.slots)+grow > jsonicMaxSlots {
					return jxLimitErr("array_too_long")
				}
				st.slots += int(grow)
				for int64(len(o.items)) <= i {
					o.items = append(o.items, jxHole{})
				}
			}
			o.items[i] = v
			return nil
		}
		if key == "length" {
			num := jxToNumber(v)
			if math.IsNaN(num) || num < 0 || num > math.MaxUint32 || num != math.Trunc(num) {
				return &jsonicError{code: "invalid_array_length"}
			}
			n := int(num)
			if n <= len(o.items) {
				o.items = o.items[:n]
				return nil
			}
			if st.slots+n-len(o.items) > jsonicMaxSlots {
				return jxLimitErr("array_too_long")
			}
			st.slots += n - len(o.items)
			for len(o.items) < n {
				o.items = append(o.items, jxHole{})
			}
			return nil
		}
		if o.props == nil {
			o.props = map[string]any{}
		}
		o.props[key] = v
	}
	return nil
}

// push is r.node.push(v); it fails once jsonic has set a push property that
// is not a function ([push:1,2]).
func (o *jxList) push(v any) error {
	if p, ok := o.props["push"]; ok {
		if _, fn := p.(jxFunc); !fn {
			return &jsonicError{code: "push_is_not_a_function"}
		}
	}
	o.items = append(o.items, v)
	return nil
}

// jxDeep is jsonic's utility deep(base, over): merge over into base.
func jxDeep(st *jxState, base, over any) (any, error) {
	_, baseIsF := base.(jxFunc)
	baseIsO := jxIsObject(base)
	_, overIsF := over.(jxFunc)
	overIsO := jxIsObject(over)
	_, baseIsA := base.(*jxList)
	_, overIsA := over.(*jxList)
	if baseIsO && overIsO && !overIsF && baseIsA == overIsA {
		if baseIsF {
			// Merging into a function mutates it; only its errors show.
			if err := jxFuncMergeErr(st, over.(*jxMap), false); err != nil {
				return nil, err
			}
			return base, nil
		}
		switch o := over.(type) {
		case *jxMap:
			for k, ov := range o.m {
				bv, err := jxGet(base, k)
				if err != nil {
					return nil, err
				}
				nv, err := jxDeep(st, bv, ov)
				if err != nil {
					return nil, err
				}
				if err := jxPut(st, base, k, nv); err != nil {
					return nil, err
				}
			}
		case *jxList:
			for i, ov := range o.items {
				if _, hole := ov.(jxHole); hole {
					continue
				}
				k := strconv.Itoa(i)
				bv, err := jxGet(base, k)
				if err != nil {
					return nil, err
				}
				nv, err := jxDeep(st, bv, ov)
				if err != nil {
					return nil, err
				}
				if err := jxPut(st, base, k, nv); err != nil {
					return nil, err
				}
			}
			for k, ov := range o.props {
				bv, err := jxGet(base, k)
				if err != nil {
					return nil, err
				}
				nv, err := jxDeep(st, bv, ov)
				if err != nil {
					return nil, err
				}
				if err := jxPut(st, base, k, nv); err != nil {
					return nil, err
				}
			}
		}
		return base, nil
	}
	if _, ok := over.(jxUndef); ok {
		return base, nil
	}
	if overIsF {
		return over, nil
	}
	if overIsO {
		if overIsA {
			return jxDeep(st, &jxList{}, over)
		}
		return jxDeep(st, &jxMap{m: map[string]any{}, plain: true}, over)
	}
	return over, nil
}

// jxFuncMergeErr reports the TypeError strict-mode JavaScript throws when deep
// writes over into a built-in function: its length and name are read-only,
// caller and arguments may not be touched, and Function (reached through
// constructor) has a read-only prototype. Other keys are copied into the
// function, which can fail the same way further down.
func jxFuncMergeErr(st *jxState, over *jxMap, isFunction bool) error {
	for k, v := range over.m {
		switch k {
		case "length", "name", "caller", "arguments":
			return &jsonicError{code: "read_only_property", src: k}
		case "prototype":
			if isFunction {
				return &jsonicError{code: "read_only_property", src: k}
			}
		}
		if !jxIsObject(v) {
			continue
		}
		// Names every function has, holding functions.
		if sub, ok := v.(*jxMap); ok && (k == "constructor" || k == "__proto__" ||
			k == "apply" || k == "bind" || k == "call" || jxObjectProto[k]) {
			if err := jxFuncMergeErr(st, sub, k == "constructor"); err != nil {
				return err
			}
			continue
		}
		if _, err := jxDeep(st, jxUndef{}, v); err != nil {
			return err
		}
	}
	return nil
}

// jxToNumber is JavaScript's ToNumber, for values jsonic can make.
func jxToNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		n, ok := jxStringToNumber(x)
		if !ok {
			return math.NaN()
		}
		return n
	case bool:
		if x {
			return 1
		}
		return 0
	case nil:
		return 0
	case *jxList:
		// ToPrimitive joins the elements with commas; an own toString or
		// join that is not a function makes it fail (TypeError or NaN).
		for _, name := range []string{"toString", "join"} {
			if p, ok := x.props[name]; ok {
				if _, fn := p.(jxFunc); !fn {
					return math.NaN()
				}
			}
		}
		switch len(x.items) {
		case 0:
			return 0
		case 1:
			switch e := x.items[0].(type) {
			case jxHole, jxUndef, nil:
				return 0
			case bool, *jxMap, jxFunc:
				return math.NaN()
			default:
				return jxToNumber(e)
			}
		}
	}
	return math.NaN()
}

// jxToJSON converts a parse value as JSON.stringify then json.Unmarshal would.
func jxToJSON(v any) any {
	switch x := v.(type) {
	case *jxMap:
		out := make(map[string]any, len(x.m))
		for k, e := range x.m {
			switch e.(type) {
			case jxFunc, jxUndef:
				continue
			}
			out[k] = jxToJSON(e)
		}
		return out
	case *jxList:
		out := make([]any, len(x.items))
		for i, e := range x.items {
			out[i] = jxToJSON(e)
		}
		return out
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		if x == 0 {
			return float64(0) // -0 prints as 0
		}
		return x
	case string, bool:
		return x
	}
	return nil // null, undefined, holes, functions
}

// ---------------------------------------------------------------------------
// Lexer.

// Token identifiers, numbered as jsonic numbers them.
const (
	jtBD = 1 + iota // bad
	jtZZ            // end
	jtUK
	jtAA
	jtSP // space
	jtLN // line
	jtCM // comment
	jtNR // number
	jtST // string
	jtTX // text
	jtVL // value: true, false, null
	jtOB // {
	jtCB // }
	jtOS // [
	jtCS // ]
	jtCL // :
	jtCA // ,
)

type jtok struct {
	tin int
	val any    // string, float64, bool, nil or jxUndef
	src string // the source text
	sI  int    // offset in UTF-16 units
}

type jlex struct {
	src   []uint16
	sI    int
	queue []*jtok
	end   *jtok
}

func jxFixedTin(c uint16) int {
	switch c {
	case '{':
		return jtOB
	case '}':
		return jtCB
	case '[':
		return jtOS
	case ']':
		return jtCS
	case ':':
		return jtCL
	case ',':
		return jtCA
	}
	return 0
}

func jxUnits(u []uint16) string { return string(utf16.Decode(u)) }

func (lx *jlex) errorAt(code string, src string, sI int) error {
	row, col := 1, 1
	if sI > len(lx.src) {
		sI = len(lx.src)
	}
	for i := 0; i < sI; i++ {
		if lx.src[i] == '\n' {
			row++
			col = 1
		} else {
			col++
		}
	}
	return &jsonicError{code: code, src: src, row: row, col: col}
}

func (lx *jlex) bad(code string, from, to, at int) (*jtok, error) {
	n := len(lx.src)
	if to > n {
		to = n
	}
	s := ""
	if 0 <= from && from <= to {
		s = jxUnits(lx.src[from:to])
	} else if at < n {
		s = jxUnits(lx.src[at : at+1])
	}
	return nil, lx.errorAt(code, s, at)
}

// next is lex.next wrapped by badlex: the next token, or the error a bad one makes.
func (lx *jlex) next() (*jtok, error) {
	if lx.end != nil {
		return lx.end, nil
	}
	if len(lx.queue) > 0 {
		t := lx.queue[0]
		lx.queue = lx.queue[1:]
		return t, nil
	}
	if lx.sI >= len(lx.src) {
		lx.end = &jtok{tin: jtZZ, sI: lx.sI, val: jxUndef{}}
		return lx.end, nil
	}
	for _, m := range [...]func() (*jtok, error){
		lx.matchFixed, lx.matchSpace, lx.matchLine, lx.matchString,
		lx.matchComment, lx.matchNumber, lx.matchText,
	} {
		t, err := m()
		if err != nil {
			return nil, err
		}
		if t != nil {
			return t, nil
		}
	}
	return lx.bad("unexpected", lx.sI, lx.sI+1, lx.sI)
}

func (lx *jlex) tok(tin int, val any, from, to int) *jtok {
	return &jtok{tin: tin, val: val, src: jxUnits(lx.src[from:to]), sI: from}
}

func (lx *jlex) matchFixed() (*jtok, error) {
	tin := jxFixedTin(lx.src[lx.sI])
	if tin == 0 {
		return nil, nil
	}
	t := lx.tok(tin, jxUndef{}, lx.sI, lx.sI+1)
	lx.sI++
	return t, nil
}

func (lx *jlex) matchSpace() (*jtok, error) {
	i := lx.sI
	for i < len(lx.src) && (lx.src[i] == ' ' || lx.src[i] == '\t') {
		i++
	}
	if i == lx.sI {
		return nil, nil
	}
	t := lx.tok(jtSP, jxUndef{}, lx.sI, i)
	lx.sI = i
	return t, nil
}

func (lx *jlex) matchLine() (*jtok, error) {
	i := lx.sI
	for i < len(lx.src) && (lx.src[i] == '\r' || lx.src[i] == '\n') {
		i++
	}
	if i == lx.sI {
		return nil, nil
	}
	t := lx.tok(jtLN, jxUndef{}, lx.sI, i)
	lx.sI = i
	return t, nil
}

func (lx *jlex) matchComment() (*jtok, error) {
	src, sI, n := lx.src, lx.sI, len(lx.src)
	start := 0
	if src[sI] == '#' {
		start = 1
	} else if src[sI] == '/' && sI+1 < n && src[sI+1] == '/' {
		start = 2
	}
	if start > 0 {
		i := sI + start
		for i < n && src[i] != '\r' && src[i] != '\n' {
			i++
		}
		t := lx.tok(jtCM, jxUndef{}, sI, i)
		lx.sI = i
		return t, nil
	}
	if src[sI] == '/' && sI+1 < n && src[sI+1] == '*' {
		for i := sI + 2; i+1 < n; i++ {
			if src[i] == '*' && src[i+1] == '/' {
				t := lx.tok(jtCM, jxUndef{}, sI, i+2)
				lx.sI = i + 2
				return t, nil
			}
		}
		return lx.bad("unterminated_comment", sI, sI+18, sI)
	}
	return nil, nil
}

// enderLen is the length of the text-ending marker at i (space, line,
// fixed token, comment start or end of source), or -1 if there is none.
func (lx *jlex) enderLen(i int) int {
	if i >= len(lx.src) {
		return 0
	}
	switch c := lx.src[i]; c {
	case ' ', '\t', '\r', '\n', '{', '}', '[', ']', ':', ',', '#':
		return 1
	case '/':
		if i+1 < len(lx.src) && (lx.src[i+1] == '/' || lx.src[i+1] == '*') {
			return 2
		}
	}
	return -1
}

// scanEnder finds the first ender at or after from; lt reports a line or
// paragraph separator (which JavaScript's . does not match) before it.
func (lx *jlex) scanEnder(from int) (end int, lt bool) {
	for i := from; ; i++ {
		if lx.enderLen(i) >= 0 {
			return i, lt
		}
		if c := lx.src[i]; c == 0x2028 || c == 0x2029 {
			lt = true
		}
	}
}

// subMatchFixed is jsonic's: a fixed token right after text or a number is
// lexed with it. When the number itself failed (first == nil) the fixed
// token is returned instead, at the number's position, and the lexer moves
// on by one unit only: jsonic's behaviour, kept.
func (lx *jlex) subMatchFixed(first *jtok, end int) *jtok {
	if lx.enderLen(end) != 1 {
		return first
	}
	tin := jxFixedTin(lx.src[end])
	if tin == 0 {
		return first
	}
	t := &jtok{tin: tin, val: jxUndef{}, src: jxUnits(lx.src[end : end+1]), sI: lx.sI}
	lx.sI++
	if first == nil {
		return t
	}
	lx.queue = append(lx.queue, t)
	return first
}

var jsonicNumberRE = regexp.MustCompile(`^[-+]?(?:0(?:x[0-9a-fA-F_]+|o[0-7_]+|b[01_]+)|\.?[0-9]+(?:[0-9_]*[0-9])?)(?:\.[0-9]?(?:[0-9_]*[0-9])?)?(?:[eE][-+]?[0-9]+(?:[0-9_]*[0-9])?)?$`)

func (lx *jlex) matchNumber() (*jtok, error) {
	end, _ := lx.scanEnder(lx.sI)
	if end == lx.sI {
		return nil, nil
	}
	raw := lx.src[lx.sI:end]
	b := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c >= 0x80 {
			return nil, nil
		}
		b = append(b, byte(c))
	}
	msrc := string(b)
	if !jsonicNumberRE.MatchString(msrc) {
		return nil, nil
	}
	nstr := strings.ReplaceAll(msrc, "_", "")
	num, ok := jxStringToNumber(nstr)
	if !ok && (nstr[0] == '-' || nstr[0] == '+') {
		// Number('-0x10') is NaN; jsonic applies the sign itself.
		num, ok = jxStringToNumber(nstr[1:])
		if nstr[0] == '-' {
			num = -num
		}
	}
	var out *jtok
	if ok {
		out = &jtok{tin: jtNR, val: num, src: msrc, sI: lx.sI}
		lx.sI = end
	}
	return lx.subMatchFixed(out, end), nil
}

func jxTextValue(s string) (any, bool) {
	switch s {
	case "true":
		return true, true
	case "false":
		return false, true
	case "null":
		return nil, true
	}
	// jsonic looks values up in a plain object, so Object.prototype's
	// names are found too, with an undefined value.
	if jxObjectProto[s] {
		return jxUndef{}, true
	}
	return nil, false
}

func (lx *jlex) matchText() (*jtok, error) {
	end, lt := lx.scanEnder(lx.sI)
	if lt || end == lx.sI {
		return nil, nil
	}
	msrc := jxUnits(lx.src[lx.sI:end])
	var out *jtok
	if v, ok := jxTextValue(msrc); ok {
		out = &jtok{tin: jtVL, val: v, src: msrc, sI: lx.sI}
	} else {
		out = &jtok{tin: jtTX, val: msrc, src: msrc, sI: lx.sI}
	}
	lx.sI = end
	return lx.subMatchFixed(out, end), nil
}

var jsonicEscapes = map[uint16]uint16{
	'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
	'"': '"', '\'': '\'', '`': '`', '\\': '\\', '/': '/',
}

// matchString is jsonic's string matcher, warts included: \x and \u read
// their digits with parseInt (so '\x4g' is "\x04"), \u{...} skips seven
// units whatever it holds, and 'ab\' is the string "ab'".
func (lx *jlex) matchString() (*jtok, error) {
	src, n := lx.src, len(lx.src)
	sI := lx.sI
	q := src[sI]
	if q != '\'' && q != '"' && q != '`' {
		return nil, nil
	}
	qI := sI
	multi := q == '`'
	sI++
	var s []uint16
	for ; sI < n; sI++ {
		c := src[sI]
		if c == q {
			sI++
			break
		}
		if c == '\\' {
			sI++
			if sI >= n {
				continue // s.push(undefined): nothing
			}
			ec := src[sI]
			if es, ok := jsonicEscapes[ec]; ok {
				s = append(s, es)
			} else if ec == 'x' {
				sI++
				cc, ok := jxParseIntHex(src[sI:min(sI+2, n)])
				if !ok {
					return lx.bad("invalid_ascii", sI-2, sI+2, sI-2)
				}
				s = append(s, uint16(int64(uint64(cc)&0xFFFF))) // fromCharCode: ToUint16
				sI++
			} else if ec == 'u' {
				sI++
				ux := 0
				if sI < n && src[sI] == '{' {
					sI++
					ux = 1
				}
				ulen := 4 + 2*ux
				cc, ok := jxParseIntHex(src[sI:min(sI+ulen, n)])
				if !ok {
					return lx.bad("invalid_unicode", sI-2-ux, sI+ulen+ux, sI-2-ux)
				}
				if cc < 0 || cc > 0x10FFFF {
					// String.fromCodePoint throws a RangeError; lex.next makes it a bad token.
					return lx.bad("unexpected", lx.sI, lx.sI+1, lx.sI)
				}
				if cc >= 0x10000 {
					r1, r2 := utf16.EncodeRune(rune(cc))
					s = append(s, uint16(r1), uint16(r2))
				} else {
					s = append(s, uint16(cc))
				}
				sI += ulen - 1 + ux
			} else {
				s = append(s, ec) // allowUnknown: '\w' is 'w'
			}
			continue
		}
		bI := sI
		for sI < n && src[sI] >= 32 && src[sI] != q && src[sI] != '\\' {
			sI++
		}
		if sI < n && src[sI] < 32 {
			if multi && (src[sI] == '\r' || src[sI] == '\n') {
				s = append(s, src[bI:sI+1]...)
			} else {
				return lx.bad("unprintable", sI, sI+1, sI)
			}
		} else {
			s = append(s, src[bI:sI]...)
			sI--
		}
	}
	if sI-1 >= n || src[sI-1] != q || qI == sI-1 {
		return lx.bad("unterminated_string", qI, sI, qI)
	}
	t := &jtok{tin: jtST, val: jxUnits(s), src: jxUnits(src[qI:sI]), sI: qI}
	lx.sI = sI
	return t, nil
}

func jxIsSpace(c uint16) bool {
	switch c {
	case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2028, 0x2029,
		0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return 0x2000 <= c && c <= 0x200A
}

func jxHexDigit(c uint16) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// jxParseIntHex is parseInt(s, 16) for s of at most six units.
func jxParseIntHex(s []uint16) (int64, bool) {
	i := 0
	for i < len(s) && jxIsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	if i+1 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') {
		i += 2
	}
	var v int64
	digits := 0
	for ; i < len(s); i++ {
		d := jxHexDigit(s[i])
		if d < 0 {
			break
		}
		v = v*16 + int64(d)
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

var jxDecimalRE = regexp.MustCompile(`^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$`)

// jxStringToNumber is JavaScript's Number(s); ok is false for NaN.
func jxStringToNumber(s string) (float64, bool) {
	u := utf16.Encode([]rune(s))
	i, j := 0, len(u)
	for i < j && jxIsSpace(u[i]) {
		i++
	}
	for j > i && jxIsSpace(u[j-1]) {
		j--
	}
	s = jxUnits(u[i:j])
	switch s {
	case "":
		return 0, true
	case "Infinity", "+Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			for k := 2; k < len(s); k++ {
				d := jxHexDigit(uint16(s[k]))
				if d < 0 || d >= base {
					return 0, false
				}
			}
			z, ok := new(big.Int).SetString(s[2:], base)
			if !ok {
				return 0, false
			}
			f, _ := new(big.Float).SetInt(z).Float64()
			return f, true
		}
	}
	if !jxDecimalRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// ---------------------------------------------------------------------------
// Rule engine.

// Counters (rule.n in jsonic).
const (
	jcPK = iota
	jcDMAP
	jcDLIST
)

type jcount struct {
	v   [3]int
	has [3]bool
}

// lte is rule.lte(counter, limit): true when unset.
func (c *jcount) lte(k, limit int) bool { return !c.has[k] || c.v[k] <= limit }

type juse struct {
	pair, done, list, implist bool
	key                       string
	prev                      any
}

type jrule struct {
	spec    *jspec
	node    any
	closing bool
	n       jcount
	d       int
	u       juse
	child   *jrule
	parent  *jrule
	prev    *jrule
	o0, c0  *jtok
	os, cs  int
	depth   int // containers around this rule (the nesting cap)
}

type jnop struct{ c, v int }

type jalt struct {
	s0, s1 uint32 // token sets; 0 when the alternate has no such token
	c      func(r *jrule) bool
	p, r   int // rule to push or replace with; -1 for none
	b      int // tokens to back off
	n      []jnop
	u      juse
	a      func(p *jparser, r *jrule) error
	e      func(p *jparser, r *jrule) *jtok
}

type jspec struct {
	name        string
	open, close []jalt
	bo, bc      func(p *jparser, r *jrule) error
}

const (
	jrVal = iota
	jrMap
	jrList
	jrPair
	jrElem
)

func jxTins(tins ...int) uint32 {
	var s uint32
	for _, t := range tins {
		s |= 1 << t
	}
	return s
}

var (
	jxKEY = jxTins(jtTX, jtNR, jtST, jtVL) // KEY and VAL are the same set
	jxVAL = jxKEY
)

var jspecs [5]*jspec

func init() { jspecs = buildJsonicGrammar() }

// buildJsonicGrammar writes out the alternates as jsonic's grammar() leaves
// them after its JSON rules are extended with the jsonic ones (the order,
// deletions and moves were checked against the live rule set).
func buildJsonicGrammar() [5]*jspec {
	none := -1
	lteDlistDmap := func(r *jrule) bool { return r.n.lte(jcDLIST, 0) && r.n.lte(jcDMAP, 0) }
	ltePK := func(r *jrule) bool { return r.n.lte(jcPK, 0) }
	lteDmap1 := func(r *jrule) bool { return r.n.lte(jcDMAP, 1) }
	c0 := func(_ *jparser, r *jrule) *jtok { return r.c0 }

	val := &jspec{name: "val"}
	val.open = []jalt{
		{s0: jxTins(jtOB), p: jrMap, r: none, b: 1},
		{s0: jxTins(jtOS), p: jrList, r: none, b: 1},
		{s0: jxKEY, s1: jxTins(jtCL), c: func(r *jrule) bool { return r.d == 0 }, p: jrMap, r: none, b: 2},
		{s0: jxKEY, s1: jxTins(jtCL), p: jrMap, r: none, b: 2, n: []jnop{{jcPK, 1}}},
		{s0: jxVAL, p: none, r: none},
		{s0: jxTins(jtCB, jtCS), c: func(r *jrule) bool { return 0 < r.d }, p: none, r: none, b: 1},
		{s0: jxTins(jtCA), c: func(r *jrule) bool { return r.d == 0 }, p: jrList, r: none, b: 1},
		{s0: jxTins(jtCA), p: none, r: none, b: 1},
		{s0: jxTins(jtZZ), p: none, r: none},
	}
	val.close = []jalt{
		{s0: jxTins(jtZZ), p: none, r: none},
		{s0: jxTins(jtCB, jtCS), p: none, r: none, b: 1,
			e: func(p *jparser, r *jrule) *jtok {
				if r.d == 0 {
					return p.t0
				}
				return nil
			}},
		{s0: jxTins(jtCA), c: lteDlistDmap, p: none, r: jrList, u: juse{implist: true}},
		{c: lteDlistDmap, p: none, r: jrList, u: juse{implist: true}, b: 1},
		{s0: jxTins(jtZZ), p: none, r: none},
		{p: none, r: none, b: 1},
	}
	val.bo = func(_ *jparser, r *jrule) error {
		r.node = jxUndef{}
		return nil
	}
	val.bc = func(_ *jparser, r *jrule) error {
		if _, undef := r.node.(jxUndef); undef {
			if _, cu := r.child.node.(jxUndef); !cu {
				r.node = r.child.node
			} else if r.os == 0 || r.o0 == nil {
				r.node = jxUndef{}
			} else {
				r.node = r.o0.val
			}
		}
		return nil
	}

	mp := &jspec{name: "map"}
	mp.open = []jalt{
		{s0: jxTins(jtOB), s1: jxTins(jtZZ), p: none, r: none, b: 1},
		{s0: jxTins(jtOB), s1: jxTins(jtCB), p: none, r: none, b: 1, n: []jnop{{jcPK, 0}}},
		{s0: jxTins(jtOB), p: jrPair, r: none, n: []jnop{{jcPK, 0}}},
		{s0: jxKEY, s1: jxTins(jtCL), p: jrPair, r: none, b: 2},
	}
	mp.close = []jalt{
		{s0: jxTins(jtCB), c: ltePK, p: none, r: none},
		{s0: jxTins(jtCB), p: none, r: none, b: 1},
		{s0: jxTins(jtCA, jtCS) | jxVAL, p: none, r: none, b: 1},
		{s0: jxTins(jtZZ), p: none, r: none},
	}
	mp.bo = func(_ *jparser, r *jrule) error {
		r.node = jxNewMap()
		r.n.v[jcDMAP] = 1 + r.n.v[jcDMAP]*jxB2i(r.n.has[jcDMAP])
		r.n.has[jcDMAP] = true
		return r.nest()
	}

	list := &jspec{name: "list"}
	list.open = []jalt{
		{c: func(r *jrule) bool { return r.prev.u.implist }, p: jrElem, r: none},
		{s0: jxTins(jtOS), s1: jxTins(jtCS), p: none, r: none, b: 1},
		{s0: jxTins(jtOS), p: jrElem, r: none},
		{s0: jxTins(jtCA), p: jrElem, r: none, b: 1},
		{p: jrElem, r: none},
	}
	list.close = []jalt{
		{s0: jxTins(jtCS), p: none, r: none},
		{s0: jxTins(jtZZ), p: none, r: none},
	}
	list.bo = func(_ *jparser, r *jrule) error {
		l := &jxList{}
		r.node = l
		r.n.v[jcDLIST] = 1 + r.n.v[jcDLIST]*jxB2i(r.n.has[jcDLIST])
		r.n.has[jcDLIST] = true
		if r.prev.u.implist {
			l.items = append(l.items, r.prev.node)
			r.prev.node = l
		}
		return r.nest()
	}

	pair := &jspec{name: "pair"}
	pair.open = []jalt{
		{s0: jxKEY, s1: jxTins(jtCL), p: jrVal, r: none, u: juse{pair: true}, a: jxPairKey},
		{s0: jxTins(jtCA), p: none, r: none},
	}
	pair.close = []jalt{
		{s0: jxTins(jtCB), c: ltePK, p: none, r: none, b: 1},
		{s0: jxTins(jtCA), s1: jxTins(jtCB), c: ltePK, p: none, r: none, b: 1},
		{s0: jxTins(jtCA), s1: jxTins(jtZZ), p: none, r: none},
		{s0: jxTins(jtCA), c: ltePK, p: none, r: jrPair},
		{s0: jxTins(jtCA), c: lteDmap1, p: none, r: jrPair},
		{s0: jxKEY, c: lteDmap1, p: none, r: jrPair, b: 1},
		{s0: jxTins(jtCB, jtCA, jtCS) | jxKEY, c: func(r *jrule) bool { return r.n.has[jcPK] && 0 < r.n.v[jcPK] }, p: none, r: none, b: 1},
		{s0: jxTins(jtCS), p: none, r: none, e: c0},
		{s0: jxTins(jtZZ), p: none, r: none},
		{p: none, r: jrPair, b: 1},
	}
	pair.bc = func(p *jparser, r *jrule) error {
		if !r.u.pair {
			return nil
		}
		prev, err := jxGet(r.node, r.u.key)
		if err != nil {
			return err
		}
		r.u.prev = prev
		return p.pairval(r)
	}

	elem := &jspec{name: "elem"}
	pushNull := func(_ *jparser, r *jrule) error {
		if l, ok := r.node.(*jxList); ok {
			return l.push(nil)
		}
		return nil
	}
	elem.open = []jalt{
		{s0: jxTins(jtCA), s1: jxTins(jtCA), p: none, r: none, b: 2, u: juse{done: true}, a: pushNull},
		{s0: jxTins(jtCA), p: none, r: none, u: juse{done: true}, a: pushNull},
		{s0: jxKEY, s1: jxTins(jtCL), p: jrVal, r: none, n: []jnop{{jcPK, 1}, {jcDMAP, 1}},
			u: juse{done: true, pair: true, list: true}, a: jxPairKey},
		{p: jrVal, r: none},
	}
	elem.close = []jalt{
		{s0: jxTins(jtCA), s1: jxTins(jtCS, jtZZ), p: none, r: none, b: 1},
		{s0: jxTins(jtCA), p: none, r: jrElem},
		{s0: jxTins(jtCS), p: none, r: none, b: 1},
		{s0: jxTins(jtZZ), p: none, r: none},
		{s0: jxTins(jtCB), p: none, r: none, e: c0},
		{p: none, r: jrElem, b: 1},
	}
	elem.bc = func(p *jparser, r *jrule) error {
		if !r.u.done {
			if l, ok := r.node.(*jxList); ok {
				if err := l.push(r.child.node); err != nil {
					return err
				}
			}
		}
		if r.u.pair {
			prev, err := jxGet(r.node, r.u.key)
			if err != nil {
				return err
			}
			r.u.prev = prev
			return p.pairval(r)
		}
		return nil
	}

	return [5]*jspec{val, mp, list, pair, elem}
}

func jxB2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nest counts a new map or list against the nesting cap.
func (r *jrule) nest() error {
	r.depth++
	if r.depth > jsonicMaxDepth {
		return &jsonicError{code: "nesting_deeper_than_" + strconv.Itoa(jsonicMaxDepth)}
	}
	return nil
}

// jxPairKey takes the key from the rule's first open token: strings and text
// by value, numbers and keywords by their source (0x10:1 has key "0x10").
func jxPairKey(_ *jparser, r *jrule) error {
	if r.o0 == nil {
		return nil
	}
	if r.o0.tin == jtST || r.o0.tin == jtTX {
		r.u.key, _ = r.o0.val.(string)
	} else {
		r.u.key = r.o0.src
	}
	return nil
}

// pairval sets the pair's value; an earlier value under the same key is
// deep-merged with it (map.extend).
func (p *jparser) pairval(r *jrule) error {
	key := r.u.key
	val := r.child.node
	if _, u := val.(jxUndef); u {
		val = nil
	}
	if r.u.list && (key == "__proto__" || key == "constructor") {
		return nil
	}
	nv := val
	switch r.u.prev.(type) {
	case nil, jxUndef:
	default:
		var err error
		if nv, err = jxDeep(&p.st, r.u.prev, val); err != nil {
			return err
		}
	}
	return jxPut(&p.st, r.node, key, nv)
}

type jparser struct {
	lx     *jlex
	t0, t1 *jtok // lookahead; nil is jsonic's NOTOKEN
	rs     []*jrule
	rsI    int
	norule *jrule
	st     jxState
}

func (p *jparser) newRule(spec *jspec, node any) *jrule {
	return &jrule{spec: spec, node: node, d: p.rsI,
		child: p.norule, parent: p.norule, prev: p.norule}
}

// nextTok reads the next token that is not space, line or comment.
func (p *jparser) nextTok() (*jtok, error) {
	for {
		t, err := p.lx.next()
		if err != nil {
			return nil, err
		}
		if t.tin != jtSP && t.tin != jtLN && t.tin != jtCM {
			return t, nil
		}
	}
}

func (p *jparser) unexpected(t *jtok) error {
	if t == nil {
		t = &jtok{sI: p.lx.sI}
	}
	src := t.src
	if t.tin == jtZZ {
		return p.lx.errorAt("unexpected_end_of_source", "", t.sI)
	}
	return p.lx.errorAt("unexpected", src, t.sI)
}

// locate gives an error from value building the position of the current token.
func (p *jparser) locate(err error) error {
	var je *jsonicError
	if errors.As(err, &je) && je.row == 0 {
		at := p.lx.sI
		if p.t0 != nil {
			at = p.t0.sI
		}
		loc := p.lx.errorAt(je.code, je.src, at).(*jsonicError)
		je.row, je.col = loc.row, loc.col
	}
	return err
}

func (p *jparser) run() (any, error) {
	p.norule = &jrule{spec: &jspec{name: "norule"}, node: jxUndef{}}
	p.norule.child, p.norule.parent, p.norule.prev = p.norule, p.norule, p.norule
	root := p.newRule(jspecs[jrVal], jxUndef{})
	rule := root
	// jsonic's bound on rule steps: 2 * rules * length * 2 * maxmul.
	maxr := 2 * len(jspecs) * len(p.lx.src) * 2 * 3
	for kI := 0; rule != p.norule && kI < maxr; kI++ {
		var err error
		if rule, err = p.process(rule); err != nil {
			return nil, p.locate(err)
		}
	}
	// Trailing content (a raw token: even a space counts).
	t, err := p.lx.next()
	if err != nil {
		return nil, err
	}
	if t.tin != jtZZ {
		return nil, p.unexpected(t)
	}
	return root.node, nil
}

func (p *jparser) parseAlts(isOpen bool, alts []jalt, r *jrule) (*jalt, error) {
	for i := range alts {
		a := &alts[i]
		has0, has1 := false, false
		cond := true
		if a.s0 != 0 {
			if p.t0 == nil {
				t, err := p.nextTok()
				if err != nil {
					return nil, err
				}
				p.t0 = t
			}
			has0 = true
			cond = a.s0&(1<<p.t0.tin) != 0
			if cond && a.s1 != 0 {
				if p.t1 == nil {
					t, err := p.nextTok()
					if err != nil {
						return nil, err
					}
					p.t1 = t
				}
				has1 = true
				cond = a.s1&(1<<p.t1.tin) != 0
			}
		}
		var t0 *jtok
		if has0 {
			t0 = p.t0
		}
		if isOpen {
			r.o0, r.os = t0, jxB2i(has0)+jxB2i(has1)
		} else {
			r.c0, r.cs = t0, jxB2i(has0)+jxB2i(has1)
		}
		if cond && a.c != nil {
			cond = a.c(r)
		}
		if cond {
			return a, nil
		}
	}
	return nil, nil
}

// process is RuleSpec.process: one step of the engine.
func (p *jparser) process(r *jrule) (*jrule, error) {
	isOpen := !r.closing
	next := p.norule
	if isOpen {
		next = r
	}
	spec := r.spec
	alts := spec.close
	before := spec.bc
	if isOpen {
		alts, before = spec.open, spec.bo
	}
	if before != nil {
		if err := before(p, r); err != nil {
			return nil, err
		}
	}
	alt, err := p.parseAlts(isOpen, alts, r)
	if err != nil {
		return nil, err
	}
	if alt == nil {
		return nil, p.unexpected(p.t0)
	}
	if alt.e != nil {
		if t := alt.e(p, r); t != nil {
			return nil, p.unexpected(t)
		}
	}
	for _, op := range alt.n {
		if op.v == 0 {
			r.n.v[op.c] = 0
		} else {
			r.n.v[op.c] = r.n.v[op.c]*jxB2i(r.n.has[op.c]) + op.v
		}
		r.n.has[op.c] = true
	}
	r.u.pair = r.u.pair || alt.u.pair
	r.u.done = r.u.done || alt.u.done
	r.u.list = r.u.list || alt.u.list
	r.u.implist = r.u.implist || alt.u.implist
	if alt.a != nil {
		if err := alt.a(p, r); err != nil {
			return nil, err
		}
	}
	switch {
	case alt.p >= 0:
		if p.rsI < len(p.rs) {
			p.rs[p.rsI] = r
		} else {
			p.rs = append(p.rs, r)
		}
		p.rsI++
		child := p.newRule(jspecs[alt.p], r.node)
		child.parent = r
		child.n = r.n
		child.depth = r.depth
		r.child = child
		next = child
	case alt.r >= 0:
		nr := p.newRule(jspecs[alt.r], r.node)
		nr.parent = r.parent
		nr.prev = r
		nr.n = r.n
		nr.depth = r.depth
		next = nr
	case !isOpen:
		p.rsI--
		if p.rsI >= 0 && p.rsI < len(p.rs) {
			next = p.rs[p.rsI]
		} else {
			next = p.norule
		}
	}
	r.closing = true
	consumed := r.cs
	if isOpen {
		consumed = r.os
	}
	consumed -= alt.b
	if consumed == 1 {
		p.t0, p.t1 = p.t1, nil
	} else if consumed == 2 {
		p.t0, p.t1 = nil, nil
	}
	return next, nil
}
