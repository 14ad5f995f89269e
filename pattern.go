package stoa

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// pattern is a pattern as Add received it, taken apart as Seneca does.
type pattern struct {
	fields []field        // keys to match, sorted, values as strings
	rules  map[string]any // keys whose values are validation rules
	canon  string         // Seneca's canonical form, e.g. "cmd:sum,role:math"
	values map[string]any // the cleaned pattern, as a message (to find its prior)
}

// Canonical returns a pattern's canonical form, as Seneca writes it: the
// keys that are matched (not directives, not rules) sorted, as "k:v" joined
// by commas. Two patterns with one canonical form are the same pattern.
func Canonical(pattern any) (string, error) {
	p, err := parsePattern(pattern)
	if err != nil {
		return "", err
	}
	return p.canon, nil
}

// parsePattern accepts a string in Seneca's jsonic form, a Msg or
// map[string]any, or any value that encodes to a JSON object.
func parsePattern(p any) (*pattern, error) {
	m, err := patternMap(p)
	if err != nil {
		return nil, err
	}
	pat := &pattern{values: make(map[string]any, len(m))}
	var canon []string
	for k, v := range m {
		if strings.HasSuffix(k, "$") {
			continue // Seneca's clean(): control keys never match
		}
		pat.values[k] = v
		if v == nil {
			continue // patrun drops null values
		}
		if isRuleValue(v) && !strings.Contains(k, "$") {
			if pat.rules == nil {
				pat.rules = map[string]any{}
			}
			pat.rules[k] = v
			continue
		}
		pat.fields = append(pat.fields, field{key: k, val: jsString(v)})
		if !strings.Contains(k, "$") && !isCompound(v) {
			canon = append(canon, k+":"+jsString(v))
		}
	}
	slices.SortFunc(pat.fields, func(a, b field) int { return jsCompare(a.key, b.key) })
	slices.SortFunc(canon, jsCompare)
	pat.canon = strings.Join(canon, ",")
	// Seneca re-parses its canonical string and refuses the pattern when
	// that fails: a value with a space or a comma cannot be added.
	if _, err := parseJsonic(pat.canon); err != nil {
		return nil, &Error{Code: CodePatternSyntax, Message: fmt.Sprintf("pattern %q cannot be written in Seneca's canonical form: %v", pat.canon, err)}
	}
	return pat, nil
}

func jsCompare(a, b string) int {
	switch {
	case a == b:
		return 0
	case jsLess(a, b):
		return -1
	}
	return 1
}

// patternMap turns a pattern or message given in any accepted form into a map.
func patternMap(p any) (map[string]any, error) {
	switch p := p.(type) {
	case string:
		m, err := parseJsonic(p)
		if err != nil {
			return nil, &Error{Code: CodePatternSyntax, Message: fmt.Sprintf("cannot parse %q: %v", p, err)}
		}
		return m, nil
	case Msg:
		return p, nil
	case map[string]any:
		return p, nil
	case nil:
		return map[string]any{}, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, &Error{Code: CodeInvalidMsg, Message: fmt.Sprintf("cannot encode %T as JSON: %v", p, err)}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, &Error{Code: CodeInvalidMsg, Message: fmt.Sprintf("%T does not encode as a JSON object", p)}
	}
	return m, nil
}
