package stoa

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// jsString returns the text JavaScript's String(v) gives for a JSON value,
// which is how Seneca compares pattern and message values: 1 and "1" are
// equal, 1.50 is "1.5", [1,2] is "1,2", an object is "[object Object]".
func jsString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64:
		return jsNumber(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !isRangeErr(err) {
			return string(v)
		}
		return jsNumber(f)
	case map[string]any, Msg:
		return "[object Object]"
	case []any:
		return jsJoin(len(v), func(i int) any { return v[i] })
	}
	return jsStringReflect(reflect.ValueOf(v))
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// jsJoin is Array.prototype.join(","): null and undefined elements are empty.
func jsJoin(n int, at func(int) any) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if e := at(i); e != nil {
			b.WriteString(jsString(e))
		}
	}
	return b.String()
}

func jsStringReflect(rv reflect.Value) string {
	switch rv.Kind() {
	case reflect.Invalid:
		return "null"
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "null"
		}
		return jsStringReflect(rv.Elem())
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jsNumber(float64(rv.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return jsNumber(float64(rv.Uint()))
	case reflect.Float32, reflect.Float64:
		return jsNumber(rv.Float())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return ""
		}
		return jsJoin(rv.Len(), func(i int) any { return rv.Index(i).Interface() })
	}
	return "[object Object]"
}

// jsNumber formats f as ECMAScript's Number::toString does: the shortest
// digits that round-trip, in plain notation for exponents from -7 to 20 and
// in e-notation outside that range.
func jsNumber(f float64) string {
	switch {
	case f == 0:
		return "0" // also -0
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatInt(int64(f), 10)
	}
	// s is d.ddde±x: the shortest digits k and the exponent n-1.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, exp, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	n, k := e+1, len(digits)
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		sign := "+"
		if n-1 < 0 {
			sign = "-"
		}
		x := n - 1
		if x < 0 {
			x = -x
		}
		if k == 1 {
			out = digits + "e" + sign + strconv.Itoa(x)
		} else {
			out = digits[:1] + "." + digits[1:] + "e" + sign + strconv.Itoa(x)
		}
	}
	if neg {
		return "-" + out
	}
	return out
}
