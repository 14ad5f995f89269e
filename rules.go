package stoa

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Validation rules: the keys of an added pattern whose values are objects,
// arrays or Rule values are not matched; they are compiled, as Seneca 3.38
// does with gubu 9's Gubu(Open(rules)), into a check every routed message
// must pass. A passing message gets the rules' defaults injected.
//
// Shape semantics (gubu's): a scalar is an optional value of its type whose
// default is that scalar ("" also admits the empty string, other string
// shapes reject it); null admits only null and defaults to null; {} is any
// object; a non-empty object is a closed object; [] is any array; [x] is an
// array whose every element is x; [x, y, ...] is a closed tuple whose missing
// elements get defaults; a Rule is a required value of its type. Missing
// optional objects and arrays are created, so their defaults appear too.

// Rule is a validation rule that can stand as a value in a pattern, like
// Seneca's `{left: Number}`: the key is then required and of the rule's type.
type Rule uint8

const (
	// Number requires a number (any Go numeric kind, or json.Number).
	Number Rule = iota + 1
	// String requires a non-empty string.
	String
	// Boolean requires a bool.
	Boolean
	// Object requires an object (a map with string keys), with any keys.
	Object
	// Array requires an array (a slice), with any elements.
	Array
)

// String returns the rule's name as Seneca writes it, such as "Number".
func (r Rule) String() string {
	if r >= Number && r <= Array {
		return [...]string{"Number", "String", "Boolean", "Object", "Array"}[r-Number]
	}
	return "Rule(" + strconv.Itoa(int(r)) + ")"
}

// isRuleValue reports whether a pattern value is a validation rule rather
// than a value to match.
func isRuleValue(v any) bool {
	switch v.(type) {
	case map[string]any, []any, Rule:
		return true
	}
	return false
}

// ruleKind is a gubu node type.
type ruleKind uint8

const (
	kindAny ruleKind = iota
	kindString
	kindNumber
	kindBoolean
	kindNull
	kindObject
	kindArray
)

var kindNames = [...]string{"any", "string", "number", "boolean", "null", "object", "array"}

// ruleNode is one compiled shape.
type ruleNode struct {
	kind     ruleKind
	required bool                 // a Rule: absent is an error, never defaulted
	def      any                  // scalar default, injected when absent
	empty    bool                 // string: "" is allowed (the shape was "")
	keys     []string             // object: declared keys, in gubu's order
	props    map[string]*ruleNode // object: declared keys' shapes
	open     bool                 // object: undeclared keys are allowed
	elem     *ruleNode            // array: shape of every element ([x])
	tuple    []*ruleNode          // array: fixed elements ([x, y, ...])
}

// ruleSet is the compiled rules of one pattern.
type ruleSet struct{ root *ruleNode }

// gubuKeyExpr matches keys gubu 9 reads as builder expressions ("x: Min(1)").
var gubuKeyExpr = regexp.MustCompile(`^\s*("(\\.|[^"\\])*"|[^\s]+):\s*(.*?)\s*$`)

// compileRules compiles a pattern's rule keys into one open object shape.
func compileRules(rules map[string]any) (*ruleSet, error) {
	root, err := compileRule(rules, false)
	if err != nil {
		return nil, err
	}
	root.open = true
	return &ruleSet{root}, nil
}

// compileRule compiles one shape; inElem tells whether it is inside the
// element shape of a one-element array, where gubu 9 cannot take a null
// inside an object or array: add throws "Cannot read properties of null".
func compileRule(v any, inElem bool) (*ruleNode, error) {
	switch x := v.(type) {
	case nil:
		return &ruleNode{kind: kindNull}, nil
	case string:
		return &ruleNode{kind: kindString, def: x, empty: x == ""}, nil
	case bool:
		return &ruleNode{kind: kindBoolean, def: x}, nil
	case Rule:
		if x < Number || x > Array {
			return nil, fmt.Errorf("invalid rule %v", x)
		}
		kind := [...]ruleKind{kindNumber, kindString, kindBoolean, kindObject, kindArray}[x-Number]
		return &ruleNode{kind: kind, required: true, open: true}, nil
	case map[string]any:
		n := &ruleNode{kind: kindObject, open: len(x) == 0, props: make(map[string]*ruleNode, len(x))}
		for k, sub := range x {
			if gubuKeyExpr.MatchString(k) {
				return nil, fmt.Errorf("rule key %q: gubu reads keys with a colon as builder expressions, which are not supported", k)
			}
			if sub == nil && inElem {
				return nil, fmt.Errorf("rule %q: gubu 9 fails on a null inside an array's element shape", k)
			}
			c, err := compileRule(sub, inElem)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %w", k, err)
			}
			n.keys, n.props[k] = append(n.keys, k), c
		}
		slices.SortFunc(n.keys, jsKeyCompare)
		return n, nil
	case []any:
		n := &ruleNode{kind: kindArray}
		for i, sub := range x {
			if sub == nil && inElem {
				return nil, fmt.Errorf("rule element %d: gubu 9 fails on a null inside an array's element shape", i)
			}
			c, err := compileRule(sub, inElem || len(x) == 1)
			if err != nil {
				return nil, fmt.Errorf("rule element %d: %w", i, err)
			}
			n.tuple = append(n.tuple, c)
		}
		if len(n.tuple) == 1 {
			n.elem, n.tuple = n.tuple[0], nil
		}
		return n, nil
	}
	if f, ok := ruleNumber(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("rule value %v is not supported", v)
		}
		return &ruleNode{kind: kindNumber, def: v}, nil
	}
	return nil, fmt.Errorf("rule value of type %T is not supported", v)
}

// ruleError is a message's failure to pass a pattern's rules. It lists
// every failure, in gubu's order, as gubu's message does.
type ruleError struct {
	Path   string      // path of the first failing value, as "a.b" or "a.1"
	Issues []ruleIssue // all failures; Issues[0].Path == Path
}

// ruleIssue is one failing value.
type ruleIssue struct {
	Path string // "a.b", "a.1"; "" for the message itself
	Text string // gubu's sentence, "Validation failed for property ..."
}

func (e *ruleError) Error() string {
	texts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		texts[i] = is.Text
	}
	return strings.Join(texts, "\n")
}

// validate checks msg against the rules. It returns msg itself when nothing
// is injected, otherwise a copy with the defaults; msg is never modified.
func (rs *ruleSet) validate(msg map[string]any) (map[string]any, error) {
	var c ruleCheck
	var buf [8]ruleStep
	out, changed := c.object(rs.root, msg, true, ruleAt{path: buf[:0]})
	if c.issues != nil {
		return nil, &ruleError{Path: c.issues[0].Path, Issues: c.issues}
	}
	if changed {
		return out.(map[string]any), nil
	}
	return msg, nil
}

// ruleCheck walks a message against a shape, collecting failures.
type ruleCheck struct{ issues []ruleIssue }

// ruleAt is where a value under check is. Passed by value, over a path
// buffer on validate's stack, it lets a passing check allocate nothing.
type ruleAt struct {
	path    []ruleStep
	inArray bool // its container is an array, which changes gubu's wording
}

// ruleStep is a key, or an index when index >= 0.
type ruleStep struct {
	key   string
	index int
}

func (at ruleAt) key(k string, inArray bool) ruleAt {
	return ruleAt{append(at.path, ruleStep{k, -1}), inArray}
}

func (at ruleAt) index(i int) ruleAt {
	return ruleAt{append(at.path, ruleStep{"", i}), true}
}

// String is the path as gubu writes it: "a.b", "a.1".
func (at ruleAt) String() string {
	var b strings.Builder
	for i, st := range at.path {
		if i > 0 {
			b.WriteByte('.')
		}
		if st.index >= 0 {
			b.WriteString(strconv.Itoa(st.index))
		} else {
			b.WriteString(st.key)
		}
	}
	return b.String()
}

// check validates v (absent when !present, JavaScript's undefined)
// against n. It returns the value to keep and whether it differs from v.
func (c *ruleCheck) check(n *ruleNode, v any, present bool, at ruleAt) (any, bool) {
	switch n.kind {
	case kindAny:
		return v, false
	case kindObject:
		return c.object(n, v, present, at)
	case kindArray:
		return c.array(n, v, present, at)
	}
	switch {
	case present && ruleType(v) != n.kind:
		c.fail(v, present, at, "type", n.kind, nil)
	case !present && n.required:
		c.fail(v, present, at, "required", n.kind, nil)
	case !present:
		return n.def, true
	case n.kind == kindString && v == "" && !n.empty:
		c.fail(v, present, at, "required", n.kind, nil)
	}
	return v, false
}

func (c *ruleCheck) object(n *ruleNode, v any, present bool, at ruleAt) (any, bool) {
	obj, isObj := ruleObject(v)
	arr, isArr := []any(nil), false
	switch {
	case !present && n.required:
		c.fail(v, present, at, "required", n.kind, nil)
		return v, false
	case !present:
		obj = map[string]any{}
	case !isObj:
		c.fail(v, present, at, "type", n.kind, nil)
		// gubu goes on into a wrong value: an array as an object of its
		// indexes, anything else as {}. Only the failures matter now.
		obj = map[string]any{}
		if arr, isArr = ruleArray(v); isArr {
			for i, e := range arr {
				obj[strconv.Itoa(i)] = e
			}
		}
	}
	if !n.open {
		var extra []string
		for k := range obj {
			if _, ok := n.props[k]; !ok {
				extra = append(extra, k)
			}
		}
		if extra != nil {
			slices.SortFunc(extra, jsKeyCompare)
			c.fail(v, present, at, "closed", n.kind, extra)
		}
	}
	out, copied := obj, !isObj
	for _, k := range n.keys {
		cur, ok := obj[k]
		if k == "length" && isArr {
			cur, ok = len(arr), true
		}
		nv, changed := c.check(n.props[k], cur, ok, at.key(k, isArr))
		if changed {
			if !copied {
				out, copied = maps.Clone(obj), true
			}
			out[k] = nv
		}
	}
	if present && (!isObj || !copied) {
		return v, false
	}
	return out, true
}

func (c *ruleCheck) array(n *ruleNode, v any, present bool, at ruleAt) (any, bool) {
	arr, isArr := ruleArray(v)
	switch {
	case !present && n.required:
		c.fail(v, present, at, "required", n.kind, nil)
		return v, false
	case present && !isArr:
		c.fail(v, present, at, "type", n.kind, nil)
		return v, false
	case n.tuple != nil && len(arr) > len(n.tuple):
		c.fail(v, present, at, "closed", n.kind, len(n.tuple))
		return v, false
	}
	count := len(n.tuple) // a tuple: at least as long as the value
	if n.elem != nil {
		count = len(arr)
	}
	out, copied := arr, !present
	if !present {
		out = make([]any, 0, count)
	}
	for i := range count {
		e, cur := n.elem, any(nil)
		if n.elem == nil {
			e = n.tuple[i]
		}
		if i < len(arr) {
			cur = arr[i]
		}
		nv, changed := c.check(e, cur, i < len(arr), at.index(i))
		if changed {
			if !copied {
				out, copied = append(make([]any, 0, count), arr...), true
			}
			if i < len(out) {
				out[i] = nv
			} else {
				out = append(out, nv)
			}
		}
	}
	if present && !copied {
		return v, false
	}
	return out, true
}

// fail records that v fails a node of the given kind, worded as gubu 9
// words it. why is "type", "required" or "closed"; extra is the undeclared
// keys ([]string) or the tuple length (int) for "closed".
func (c *ruleCheck) fail(v any, present bool, at ruleAt, why string, kind ruleKind, extra any) {
	str := "undefined"
	if present {
		str = strings.ReplaceAll(jsJSON(v), `"`, "")
	}
	str = jsTruncate(str, 111)
	valKind := "value"
	switch {
	case strings.HasPrefix(str, "["):
		valKind = "array"
	case strings.HasPrefix(str, "{"):
		valKind = "object"
	case !present || v == nil:
	default:
		if t := ruleType(v); t != kindAny {
			valKind = kindNames[t]
		} else if f, ok := ruleNumber(v); !ok || !math.IsNaN(f) {
			valKind = "object"
		}
	}
	// gubu words a closed failure after stepping into the value, so only
	// the value's own look makes it an "index" then.
	propKind, verb := "property", "is"
	if strings.HasPrefix(str, "[") || at.inArray && why != "closed" {
		propKind = "index"
	}
	var reason string
	switch why {
	case "type":
		reason = "the " + valKind + " is not of type " + kindNames[kind]
	case "required":
		reason = "the " + valKind + " is required"
		if v == "" {
			reason = "an empty string is not allowed"
		}
	case "closed":
		keys := fmt.Sprint(extra)
		if ks, ok := extra.([]string); ok {
			keys = strings.Join(ks, ", ")
			if len(ks) > 1 {
				propKind, verb = "properties", "are"
			}
		}
		reason = "the " + propKind + ` "` + keys + `" ` + verb + " not allowed"
	}
	path := at.String()
	text := "Validation failed for "
	if path != "" {
		text += propKind + ` "` + path + `" with `
	}
	text += valKind + ` "` + str + `" because ` + reason + "."
	c.issues = append(c.issues, ruleIssue{Path: path, Text: text})
}

// ruleType is the gubu type of a message value: kindAny for values of
// no JSON type (and NaN, which gubu calls "nan").
func ruleType(v any) ruleKind {
	switch v.(type) {
	case nil:
		return kindNull
	case string:
		return kindString
	case bool:
		return kindBoolean
	case map[string]any:
		return kindObject
	case []any:
		return kindArray
	case Rule:
		return kindAny
	}
	if f, ok := ruleNumber(v); ok {
		if math.IsNaN(f) {
			return kindAny
		}
		return kindNumber
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.String:
		return kindString
	case reflect.Bool:
		return kindBoolean
	}
	if _, ok := ruleObject(v); ok {
		return kindObject
	}
	if _, ok := ruleArray(v); ok {
		return kindArray
	}
	return kindAny
}

// ruleNumber reports whether v is a number (any Go numeric kind, or
// json.Number) and its value.
func ruleNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return math.NaN(), true
		}
		return f, true
	case Rule:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanFloat():
		return rv.Float(), true
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	}
	return 0, false
}

// ruleObject returns v as a map[string]any: itself, or a copy of a map of
// another type with string keys.
func ruleObject(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}

// ruleArray returns v as a []any: itself, or a copy of a slice or array of
// another type.
func ruleArray(v any) ([]any, bool) {
	if a, ok := v.([]any); ok {
		return a, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	a := make([]any, rv.Len())
	for i := range a {
		a[i] = rv.Index(i).Interface()
	}
	return a, true
}

// jsKeyCompare orders keys as JavaScript's Object.keys lists the keys of
// an object built in sorted order: array indexes first, numerically.
func jsKeyCompare(a, b string) int {
	ia, aok := jsIndex(a)
	ib, bok := jsIndex(b)
	switch {
	case aok && bok:
		return cmp.Compare(ia, ib)
	case aok != bok:
		if aok {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func jsIndex(k string) (int64, bool) {
	n, err := strconv.ParseUint(k, 10, 32)
	return int64(n), err == nil && n < math.MaxUint32 && strconv.FormatUint(n, 10) == k
}

// jsJSON renders v as JavaScript's JSON.stringify does, leaving out keys
// that end in "$" as gubu does in its messages.
func jsJSON(v any) string {
	var b strings.Builder
	jsJSONTo(&b, v)
	return b.String()
}

func jsJSONTo(b *strings.Builder, v any) {
	if s, ok := v.(string); ok {
		jsQuote(b, s)
		return
	}
	if f, ok := ruleNumber(v); ok {
		if math.IsNaN(f) {
			b.WriteString(`"NaN"`)
		} else if math.IsInf(f, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(jsNumber(f))
		}
		return
	}
	switch ruleType(v) {
	case kindNull:
		b.WriteString("null")
	case kindBoolean:
		b.WriteString(strconv.FormatBool(reflect.ValueOf(v).Bool()))
	case kindString:
		jsQuote(b, reflect.ValueOf(v).String())
	case kindObject:
		m, _ := ruleObject(v)
		keys := make([]string, 0, len(m))
		for k := range m {
			if !strings.HasSuffix(k, "$") {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, jsKeyCompare)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			jsQuote(b, k)
			b.WriteByte(':')
			jsJSONTo(b, m[k])
		}
		b.WriteByte('}')
	case kindArray:
		a, _ := ruleArray(v)
		b.WriteByte('[')
		for i, e := range a {
			if i > 0 {
				b.WriteByte(',')
			}
			jsJSONTo(b, e)
		}
		b.WriteByte(']')
	default:
		out, err := json.Marshal(v)
		if err != nil {
			out = []byte(strconv.Quote(fmt.Sprint(v)))
		}
		b.Write(out)
	}
}

// jsQuote writes s as a JSON string the way JSON.stringify escapes it.
func jsQuote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			if e := strings.IndexRune("\b\f\n\r\t", r); e >= 0 {
				b.WriteByte('\\')
				b.WriteByte("bfnrt"[e])
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// jsTruncate shortens s to n UTF-16 units, ending in "...", as gubu does.
func jsTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	u := utf16.Encode([]rune(s))
	if len(u) <= n {
		return s
	}
	return string(utf16.Decode(u[:n-3])) + "..."
}
