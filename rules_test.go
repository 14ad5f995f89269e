package stoa

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// ruleShape parses a JSON shape, reading the strings "$Number", "$String",
// "$Boolean", "$Object" and "$Array" as those rules (as gubu-oracle.js does).
func ruleShape(t testing.TB, src string) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("shape %s: %v", src, err)
	}
	m, ok := withRules(v).(map[string]any)
	if !ok {
		t.Fatalf("shape %s: not an object", src)
	}
	return m
}

func withRules(v any) any {
	switch x := v.(type) {
	case string:
		for _, r := range []Rule{Number, String, Boolean, Object, Array} {
			if x == "$"+r.String() {
				return r
			}
		}
	case map[string]any:
		for k, e := range x {
			x[k] = withRules(e)
		}
	case []any:
		for i, e := range x {
			x[i] = withRules(e)
		}
	}
	return v
}

func ruleMsg(t testing.TB, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		t.Fatalf("message %s: %v", src, err)
	}
	return m
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ruleCases are [shape, msg] pairs, one a line; the facts seen with gubu are
// in TestRules, and every pair is checked against gubu itself in
// TestRulesAgainstGubu.
const ruleCases = `
[{"a":{"b":1}}, {"a":{"b":2,"c":3}}]
[{"a":{"b":1}}, {"z":1}]
[{"a":{"b":1}}, {"a":{}}]
[{"a":{"b":1}}, {"a":{"b":"x"}}]
[{"a":{"b":1}}, {"a":{"c":1}}]
[{"a":{"b":1}}, {"a":{"c":1,"d":2}}]
[{"a":{"b":1}}, {"a":{"b":"x","c":1}}]
[{"a":{"b":1}}, {"a":null}]
[{"a":{"b":1}}, {"a":[]}]
[{"a":{"b":1}}, {"a":[1]}]
[{"a":{"b":1}}, {"a":[1,2]}]
[{"a":{"b":1}}, {"a":"x"}]
[{"a":{"b":1}}, {"a":{"b":null}}]
[{"a":{"b":1}}, {"a":{"b":1.5e300}}]
[{"a":{"b":1}}, {"a":{"b":-0.000000123}}]
[{"x":1,"a":{"b":1}}, {"x":1}]
[{"a":{}}, {"a":{"c":3}}]
[{"a":{}}, {"a":1}]
[{"a":{}}, {}]
[{"a":{}}, {"a":[1,2]}]
[{"a":[]}, {"a":[1,"x"]}]
[{"a":[]}, {}]
[{"a":[]}, {"a":{}}]
[{"a":[]}, {"a":"1,2"}]
[{"a":[1]}, {"a":[3,"x"]}]
[{"a":[1]}, {"a":[3,4]}]
[{"a":[1]}, {}]
[{"a":[1]}, {"a":[]}]
[{"a":[1,2]}, {"a":[3,4,5]}]
[{"a":[1,"x"]}, {"a":[3]}]
[{"a":[1,2]}, {}]
[{"a":[1,2]}, {"a":[]}]
[{"a":[1,2]}, {"a":[3,"x"]}]
[{"a":[1,2]}, {"a":[null]}]
[{"a":{"b":"x"}}, {"a":{"b":1}}]
[{"a":{"b":true}}, {"a":{"b":"true"}}]
[{"a":{"b":true}}, {"a":{}}]
[{"a":{"b":false}}, {"a":{"b":true}}]
[{"a":{"b":null}}, {"a":{"b":1}}]
[{"a":{"b":null}}, {"a":{}}]
[{"a":{"b":null}}, {"a":{"b":null}}]
[{"a":{"b":{"c":1}}}, {}]
[{"a":{"b":{"c":1}}}, {"a":{"b":{"c":"1"}}}]
[{"a":{"b":""}}, {"a":{}}]
[{"a":{"b":""}}, {"a":{"b":""}}]
[{"a":{"b":"x"}}, {"a":{"b":""}}]
[{"a":[{"b":1}]}, {"a":[{},{"b":2}]}]
[{"a":[{"b":1}]}, {"a":[{"b":"x"},{"c":1}]}]
[{"a":{"b":[]}}, {"a":{}}]
[{"a":{"b":[]}}, {"a":{"b":{}}}]
[{"a":[[1]]}, {"a":[[1,"x"],3]}]
[{"a":[[1]]}, {"a":[[],[2]]}]
[{"a":[[1,2]]}, {"a":[[],[7]]}]
[{"a":[{"b":[1,{"c":"z"}]}]}, {"a":[{},{"b":[5]}]}]
[{"left":"$Number"}, {"left":2}]
[{"left":"$Number"}, {}]
[{"left":"$Number"}, {"left":"1"}]
[{"left":"$Number"}, {"left":null}]
[{"left":"$Number","right":"$Number"}, {"role":"m"}]
[{"s":"$String"}, {"s":"x"}]
[{"s":"$String"}, {"s":""}]
[{"s":"$String"}, {"s":1}]
[{"b":"$Boolean"}, {"b":false}]
[{"b":"$Boolean"}, {"b":0}]
[{"o":"$Object"}, {"o":{"x":[1]}}]
[{"o":"$Object"}, {"o":[]}]
[{"o":"$Object"}, {}]
[{"r":"$Array"}, {"r":[1,"x",{}]}]
[{"r":"$Array"}, {"r":{}}]
[{"r":"$Array"}, {}]
[{"a":{"b":"$Number"}}, {}]
[{"a":{"b":"$Number"}}, {"a":"x"}]
[{"a":{"b":"$Number","c":{"d":"$String"}}}, {"a":{"x":1,"y":2}}]
[{"a":["$Number"]}, {"a":[1,"2",3]}]
[{"a":["$Number","$String"]}, {"a":[1]}]
[{"a":{"b":"x"}}, {"a":{"b":"[not an array"}}]
[{"a":1}, {"a":"{not an object"}]
[{"a":1}, {"a":{"k$":1,"v":2}}]
[{"a":{"b":1}}, {"a":{"c$":1,"d":1}}]
[{"a":"x"}, {"a":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"}]
[{"a":1}, {"a":"quote \" and \\ and \n é 😀"}]
[{"a":{"b":1}}, {"a":{"10":1,"2":2,"b":3,"a":4}}]
[{"a":{"2":"x","10":"y"}}, {"a":{}}]
[{"a":{"length":1}}, {"a":["x"]}]
[{"a":{"b":"$Number"}}, {"a":[]}]
[{"a":[{"b":"$Number"}]}, {"a":[{}]}]
[{"a":1,"b":{"c":2},"d":[3,{"e":4}]}, {"z":"keep"}]
[{"n":"x"}, {"n":0.000001}]
[{"n":"x"}, {"n":0.0000005}]
[{"n":"x"}, {"n":1e-7}]
[{"n":"x"}, {"n":123e18}]
[{"n":"x"}, {"n":1e21}]
[{"n":"x"}, {"n":-0}]
[{"n":"x"}, {"n":12345678901234567890}]
[{"n":"x"}, {"n":[0.1,-2.5e-9,true,null,{"k":[]}]}]
[{"a":{"0":1}}, {"a":["x"]}]
[{"a":{"length":"x"}}, {"a":[1,2]}]
[{"":{"b":1}}, {"":{"b":"x"}}]
[{"a.b":{"c":1}}, {"a.b":{"c":"x"}}]
[{"a":["$Number","x"]}, {"a":[]}]
[{"a":[{"b":1}]}, {"a":[null]}]
[{"a":[{"b":1}]}, {"a":[{"b":2,"c":3,"d":4}]}]
[{"a":[[]]}, {"a":[{},[]]}]
[{"a":[[1],{"b":"y"}]}, {"a":[[2]]}]
[{"a":[[1],{"b":"y"}]}, {}]
[{"a":{"b":[1,2]}}, {"a":{"b":[1,2,3],"c":1}}]
[{"a":"x"}, {"a":"ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé😀😀"}]
[{"a":"x"}, {"a":"😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"}]
[{"a":"x"}, {"a":"a😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"}]
[{"a":1}, {"a":"tab\there\u0001\u001f"}]
[{"a":1,"b":{"c":"$String"}}, {"a":"1","b":{"c":""}}]
`

func ruleCaseList(t testing.TB) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(ruleCases), "\n") {
		var pair [2]json.RawMessage
		if err := json.Unmarshal([]byte(line), &pair); err != nil {
			t.Fatalf("case %s: %v", line, err)
		}
		out = append(out, [2]string{string(pair[0]), string(pair[1])})
	}
	return out
}

func TestRules(t *testing.T) {
	tests := []struct {
		shape map[string]any
		msg   string
		want  string // output as JSON, or "ERR <path>"
	}{
		{map[string]any{"a": map[string]any{"b": 1}}, `{"a":{"b":2,"c":3}}`, "ERR a"},
		{map[string]any{"a": map[string]any{"b": 1}}, `{"z":1}`, `{"a":{"b":1},"z":1}`},
		{map[string]any{"a": map[string]any{"b": 1}}, `{"a":{"b":"x"}}`, "ERR a.b"},
		{map[string]any{"a": map[string]any{"b": 1}}, `{"a":null}`, "ERR a"},
		{map[string]any{"a": map[string]any{"b": 1}}, `{"a":[]}`, "ERR a"},
		{map[string]any{"a": map[string]any{"b": 1}}, `{"a":{"b":null}}`, "ERR a.b"},
		{map[string]any{"a": map[string]any{}}, `{"a":{"c":3}}`, `{"a":{"c":3}}`},
		{map[string]any{"a": map[string]any{}}, `{"a":1}`, "ERR a"},
		{map[string]any{"a": map[string]any{}}, `{}`, `{"a":{}}`},
		{map[string]any{"a": []any{}}, `{"a":[1,"x"]}`, `{"a":[1,"x"]}`},
		{map[string]any{"a": []any{}}, `{}`, `{"a":[]}`},
		{map[string]any{"a": []any{1}}, `{"a":[3,"x"]}`, "ERR a.1"},
		{map[string]any{"a": []any{1}}, `{"a":[3,4]}`, `{"a":[3,4]}`},
		{map[string]any{"a": []any{1}}, `{}`, `{"a":[]}`},
		{map[string]any{"a": []any{1, 2}}, `{"a":[3,4,5]}`, "ERR a"},
		{map[string]any{"a": []any{1, "x"}}, `{"a":[3]}`, `{"a":[3,"x"]}`},
		{map[string]any{"a": []any{1, 2}}, `{}`, `{"a":[1,2]}`},
		{map[string]any{"a": map[string]any{"b": "x"}}, `{"a":{"b":1}}`, "ERR a.b"},
		{map[string]any{"a": map[string]any{"b": true}}, `{"a":{"b":"true"}}`, "ERR a.b"},
		{map[string]any{"a": map[string]any{"b": nil}}, `{"a":{"b":1}}`, "ERR a.b"},
		{map[string]any{"a": map[string]any{"b": nil}}, `{"a":{}}`, `{"a":{"b":null}}`},
		{map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}}}, `{}`, `{"a":{"b":{"c":1}}}`},
		{map[string]any{"a": map[string]any{"b": ""}}, `{"a":{}}`, `{"a":{"b":""}}`},
		{map[string]any{"a": map[string]any{"b": "x"}}, `{"a":{"b":""}}`, "ERR a.b"},
		{map[string]any{"a": []any{map[string]any{"b": 1}}}, `{"a":[{},{"b":2}]}`, `{"a":[{"b":1},{"b":2}]}`},
		{map[string]any{"a": map[string]any{"b": []any{}}}, `{"a":{}}`, `{"a":{"b":[]}}`},
		{map[string]any{"a": []any{[]any{1}}}, `{"a":[[1,"x"]]}`, "ERR a.0.1"},
		{map[string]any{"left": Number}, `{"role":"m"}`, "ERR left"},
		{map[string]any{"left": Number}, `{"left":"1"}`, "ERR left"},
		{map[string]any{"left": Number}, `{"left":2}`, `{"left":2}`},
		{map[string]any{"s": String}, `{"s":""}`, "ERR s"},
		{map[string]any{"s": String}, `{"s":"x"}`, `{"s":"x"}`},
		{map[string]any{"b": Boolean}, `{"b":false}`, `{"b":false}`},
		{map[string]any{"o": Object}, `{"o":{"x":1}}`, `{"o":{"x":1}}`},
		{map[string]any{"o": Object}, `{"o":[]}`, "ERR o"},
		{map[string]any{"r": Array}, `{"r":[]}`, `{"r":[]}`},
		{map[string]any{"r": Array}, `{}`, "ERR r"},
		{map[string]any{"a": map[string]any{"b": int64(7)}}, `{"a":{"b":1.25}}`, `{"a":{"b":1.25}}`},
	}
	for _, tt := range tests {
		rs, err := compileRules(tt.shape)
		if err != nil {
			t.Fatalf("compile %v: %v", tt.shape, err)
		}
		out, err := rs.validate(ruleMsg(t, tt.msg))
		got := ""
		if err != nil {
			var re *ruleError
			if !errors.As(err, &re) {
				t.Fatalf("%v %s: error %T, want *ruleError", tt.shape, tt.msg, err)
			}
			got = "ERR " + re.Path
		} else {
			got = mustJSON(t, out)
		}
		if got != tt.want {
			t.Errorf("%v %s => %s, want %s", tt.shape, tt.msg, got, tt.want)
		}
	}
}

func TestRulesMessages(t *testing.T) {
	tests := []struct{ shape, msg, want string }{
		{`{"a":{"b":1}}`, `{"a":{"b":"x"}}`,
			`Validation failed for property "a.b" with string "x" because the string is not of type number.`},
		{`{"a":{"b":1}}`, `{"a":{"c":1}}`,
			`Validation failed for property "a" with object "{c:1}" because the property "c" is not allowed.`},
		{`{"left":"$Number"}`, `{"role":"m"}`,
			`Validation failed for property "left" with value "undefined" because the value is required.`},
		{`{"a":[1,2]}`, `{"a":[3,4,5]}`,
			`Validation failed for index "a" with array "[3,4,5]" because the index "2" is not allowed.`},
		{`{"s":"$String"}`, `{"s":""}`,
			`Validation failed for property "s" with string "" because an empty string is not allowed.`},
		{`{"a":{"b":1}}`, `{"a":{"c":1,"d":2}}`,
			`Validation failed for properties "a" with object "{c:1,d:2}" because the properties "c, d" are not allowed.`},
		{`{"a":{"b":"$Number"}}`, `{"a":"x"}`,
			"Validation failed for property \"a\" with string \"x\" because the string is not of type object.\n" +
				`Validation failed for property "a.b" with value "undefined" because the value is required.`},
	}
	for _, tt := range tests {
		rs, err := compileRules(ruleShape(t, tt.shape))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rs.validate(ruleMsg(t, tt.msg))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s %s:\n got %v\nwant %s", tt.shape, tt.msg, err, tt.want)
		}
	}
}

// TestRulesGoValues covers message values only Go callers send.
func TestRulesGoValues(t *testing.T) {
	shape := map[string]any{"n": Number, "s": String, "b": Boolean, "o": Object, "r": Array,
		"t": map[string]any{"x": 1}, "e": []any{"z", "q"}}
	type name string
	ok := map[string]any{"n": int8(-3), "s": name("x"), "b": true, "o": map[string]int{"k": 1},
		"r": []string{"a"}, "t": map[string]float32{"x": 2.5}, "e": []string{"y", "w"}}
	rs, err := compileRules(shape)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []any{1, int64(1), uint16(1), float32(1.5), 2.5, json.Number("12"), math.Inf(1)} {
		ok["n"] = n
		out, err := rs.validate(ok)
		if err != nil {
			t.Errorf("n=%T(%v): %v", n, n, err)
		} else if !reflect.DeepEqual(out, ok) {
			t.Errorf("n=%T(%v): output %v differs from input", n, n, out)
		}
	}
	for _, n := range []any{math.NaN(), "1", struct{}{}, Number} {
		ok["n"] = n
		if _, err := rs.validate(ok); err == nil {
			t.Errorf("n=%T(%v) passed, want a type failure", n, n)
		}
	}
	ok["n"] = 1
	ok["e"] = []string{"y", "w", "v"}
	if _, err := rs.validate(ok); err == nil {
		t.Errorf("a 3-element []string passed a 2-element tuple")
	}
	ok["e"], ok["t"] = []string{}, map[string]int{}
	out, err := rs.validate(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, map[string]any{"e": out["e"], "t": out["t"]}); got != `{"e":["z","q"],"t":{"x":1}}` {
		t.Errorf("defaults into Go-typed containers: %s", got)
	}
}

func TestRulesCompile(t *testing.T) {
	for _, bad := range []map[string]any{
		{"a:b": map[string]any{}},
		{"a": map[string]any{"x: Min(1)": 1}},
		{"a": []any{struct{}{}}},
		{"a": map[string]any{"b": math.NaN()}},
		{"a": Rule(0)},
		{"a": []any{[]any{nil}}},                // gubu 9 throws on these
		{"a": []any{map[string]any{"b": nil}}},  // (a null inside an
		{"a": []any{1, []any{[]any{1.0, nil}}}}, // element shape)
	} {
		if _, err := compileRules(bad); err == nil {
			t.Errorf("compileRules(%v) succeeded, want an error", bad)
		}
	}
	for _, good := range []map[string]any{{"a": []any{nil}}, {"a": []any{1, nil}}, {"a": map[string]any{"b": nil}}} {
		if _, err := compileRules(good); err != nil {
			t.Errorf("compileRules(%v): %v", good, err)
		}
	}
	for v, want := range map[any]bool{nil: false, 1: false, "x": false, Number: true,
		Array: true, true: false} {
		if isRuleValue(v) != want {
			t.Errorf("isRuleValue(%v) = %v", v, !want)
		}
	}
	if !isRuleValue(map[string]any{}) || !isRuleValue([]any{}) {
		t.Error("isRuleValue is false for an object or array")
	}
	if Number.String() != "Number" || Array.String() != "Array" {
		t.Error("Rule.String")
	}
}

// TestRulesNoCopy: a message that needs no default is returned as is,
// without allocating.
func TestRulesNoCopy(t *testing.T) {
	rs, err := compileRules(ruleShape(t, `{"a":{"b":1,"c":["x"]},"n":"$Number","t":[1,"y"]}`))
	if err != nil {
		t.Fatal(err)
	}
	msg := ruleMsg(t, `{"a":{"b":2,"c":["p","q"]},"n":3,"t":[4,"z"],"z":true}`)
	out, err := rs.validate(msg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(out).UnsafePointer() != reflect.ValueOf(msg).UnsafePointer() {
		t.Error("validate copied a message that needed no defaults")
	}
	if n := testing.AllocsPerRun(100, func() { rs.validate(msg) }); n != 0 {
		t.Errorf("validate allocates %v times on a passing message", n)
	}
}

// TestRulesAgainstGubu runs every ruleCases pair through real gubu 9.0.0
// (testdata/npm/gubu-oracle.js) and compares outcome, output, paths and
// message with validate's.
func TestRulesAgainstGubu(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping the gubu oracle")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not found: install Node and run npm install in testdata/npm")
	}
	cases := ruleCaseList(t)
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	cases = append(cases, randomRuleCases(500)...)
	// Send keys in Go's sorted order, so gubu sees the order validate uses.
	var input []any
	for _, c := range cases {
		var shape, msg any
		json.Unmarshal([]byte(c[0]), &shape)
		json.Unmarshal([]byte(c[1]), &msg)
		input = append(input, []any{shape, msg})
	}
	cmd := exec.Command("node", "gubu-oracle.js")
	cmd.Dir = "testdata/npm"
	cmd.Stdin = strings.NewReader(mustJSON(t, input))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "Cannot find module") {
			t.Skip("gubu not installed: run npm install in testdata/npm")
		}
		t.Fatalf("gubu-oracle.js: %v\n%s", err, stderr.String())
	}
	var results []struct {
		OK      json.RawMessage `json:"ok"`
		Err     *string         `json:"err"`
		Compile *string         `json:"compile"`
		Paths   []string        `json:"paths"`
		Msg     string          `json:"msg"`
	}
	if err := json.Unmarshal(raw, &results); err != nil || len(results) != len(cases) {
		t.Fatalf("oracle output (%v): %s", err, raw)
	}
	for i, c := range cases {
		g := results[i]
		rs, err := compileRules(ruleShape(t, c[0]))
		if (err != nil) != (g.Compile != nil) {
			t.Errorf("%s: compile error %v, gubu's %v", c[0], err, g.Compile)
		}
		if err != nil || g.Compile != nil {
			continue
		}
		out, err := rs.validate(ruleMsg(t, c[1]))
		var re *ruleError
		switch {
		case g.Err == nil && err != nil:
			t.Errorf("%s %s: gubu passes %s, validate fails: %v", c[0], c[1], g.OK, err)
		case g.Err != nil && err == nil:
			t.Errorf("%s %s: gubu fails at %q, validate passes: %s", c[0], c[1], *g.Err, mustJSON(t, out))
		case g.Err == nil:
			var want any
			json.Unmarshal(g.OK, &want)
			if got, w := mustJSON(t, out), mustJSON(t, want); got != w {
				t.Errorf("%s %s: output %s, gubu %s", c[0], c[1], got, w)
			}
		case !errors.As(err, &re):
			t.Errorf("%s %s: error %T, want *ruleError", c[0], c[1], err)
		default:
			var paths []string
			for _, is := range re.Issues {
				paths = append(paths, is.Path)
			}
			if re.Path != *g.Err || !reflect.DeepEqual(paths, g.Paths) {
				t.Errorf("%s %s: paths %q, gubu %q", c[0], c[1], paths, g.Paths)
			}
			if err.Error() != g.Msg {
				t.Errorf("%s %s: message\n%s\ngubu:\n%s", c[0], c[1], err, g.Msg)
			}
		}
	}
}

// randomRuleCases makes n [shape, msg] pairs, the messages near their
// shapes, so that both passing and failing ones are common.
func randomRuleCases(n int) [][2]string {
	r := rand.New(rand.NewPCG(9, 38))
	keys := []string{"a", "b", "c", "0", "1", "x$"}
	scalars := []any{0.0, 1.0, -2.5, "", "s", "t", true, false, nil}
	rules := []string{"$Number", "$String", "$Boolean", "$Object", "$Array"}
	var shape func(depth int) any
	shape = func(depth int) any {
		switch k := r.IntN(10); {
		case k < 4 || depth > 2:
			if r.IntN(3) == 0 {
				return rules[r.IntN(len(rules))]
			}
			return scalars[r.IntN(len(scalars))]
		case k < 7:
			m := map[string]any{}
			for range r.IntN(4) {
				m[keys[r.IntN(len(keys))]] = shape(depth + 1)
			}
			return m
		default:
			a := []any{}
			for range r.IntN(4) {
				a = append(a, shape(depth+1))
			}
			return a
		}
	}
	var value func(sh any, depth int) (any, bool)
	value = func(sh any, depth int) (any, bool) {
		if r.IntN(6) == 0 || depth > 4 {
			if r.IntN(3) == 0 {
				return nil, false // absent
			}
			return shape(3), true
		}
		switch x := sh.(type) {
		case map[string]any:
			m := map[string]any{}
			for k, e := range x {
				if v, ok := value(e, depth+1); ok {
					m[k] = v
				}
			}
			if r.IntN(5) == 0 {
				m[keys[r.IntN(len(keys))]] = scalars[r.IntN(len(scalars))]
			}
			return m, true
		case []any:
			a := []any{}
			for i := range r.IntN(4) {
				var v any = 1.0
				if len(x) > 0 {
					v, _ = value(x[i%len(x)], depth+1)
				}
				a = append(a, v)
			}
			return a, true
		case string:
			switch x {
			case "$Number":
				return float64(r.IntN(5)), true
			case "$String":
				return []any{"", "v"}[r.IntN(2)], true
			case "$Boolean":
				return true, true
			case "$Object":
				return map[string]any{"q": 1.0}, true
			case "$Array":
				return []any{1.0}, true
			}
		}
		return scalars[r.IntN(len(scalars))], true
	}
	var out [][2]string
	for range n {
		sh, ok := shape(0).(map[string]any)
		if !ok {
			sh = map[string]any{"a": shape(1)}
		}
		delete(sh, "x$")
		msg, _ := value(sh, 0)
		if _, ok := msg.(map[string]any); !ok {
			msg = map[string]any{}
		}
		s, _ := json.Marshal(sh)
		m, _ := json.Marshal(msg)
		out = append(out, [2]string{string(s), string(m)})
	}
	return out
}

// deepCopyJSON copies a JSON-decoded value.
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopyJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopyJSON(e)
		}
		return a
	}
	return v
}

func FuzzRules(f *testing.F) {
	for _, c := range ruleCaseList(f) {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, shapeSrc, msgSrc string) {
		var shape any
		var msg map[string]any
		if json.Unmarshal([]byte(shapeSrc), &shape) != nil || json.Unmarshal([]byte(msgSrc), &msg) != nil {
			return
		}
		rules, ok := withRules(shape).(map[string]any)
		if !ok {
			return
		}
		rs, err := compileRules(rules)
		if err != nil {
			return
		}
		before := deepCopyJSON(msg)
		out, err := rs.validate(msg)
		if !reflect.DeepEqual(msg, before) {
			t.Fatalf("validate changed its input: %v, was %v", msg, before)
		}
		if err != nil {
			var re *ruleError
			if !errors.As(err, &re) || len(re.Issues) == 0 || re.Path != re.Issues[0].Path {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		// What validate outputs passes, and needs nothing more.
		again, err := rs.validate(out)
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("output %v does not pass again: %v %v", out, again, err)
		}
	})
}
