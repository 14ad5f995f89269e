package fn

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// maxHandler and maxDescription are Lambda's caps on those fields.
const (
	maxHandler     = 128
	maxDescription = 256
)

// reservedEnv are the variables the runtime sets (Lambda's reserved list
// and what Stoa's process runtime refuses); AWS_LAMBDA_* is reserved as a
// prefix.
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_DEFAULT_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "LAMBDA_TASK_ROOT": true,
	"LAMBDA_RUNTIME_DIR": true, "TZ": true,
}

// validName reports whether s matches ^[a-zA-Z0-9_-]{1,max}$.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkName refuses a function name that is not ^[a-zA-Z0-9_-]{1,64}$.
func checkName(name string) error {
	if !validName(name, 64) {
		return &Error{Code: CodeInvalidName, Function: name,
			Message: "a function name is 1 to 64 letters, digits, '-' or '_'"}
	}
	return nil
}

// isLatest reports whether q names the latest version.
func isLatest(q string) bool { return q == "" || strings.EqualFold(q, "latest") || q == "$LATEST" }

// allDigits reports whether s is a non-empty string of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkAlias refuses an alias that is not ^[a-zA-Z0-9_-]{1,64}$, is all
// digits (it would read as a version number) or is "latest".
func checkAlias(name, alias string) error {
	switch {
	case isLatest(alias):
		return &Error{Code: CodeInvalidAlias, Function: name, Field: alias,
			Message: `"latest" always follows the newest version and cannot be set`}
	case !validName(alias, 64):
		return &Error{Code: CodeInvalidAlias, Function: name, Field: alias,
			Message: fmt.Sprintf("alias %q: an alias is 1 to 64 letters, digits, '-' or '_'", alias)}
	case allDigits(alias):
		return &Error{Code: CodeInvalidAlias, Function: name, Field: alias,
			Message: fmt.Sprintf("alias %q: an alias cannot be all digits (it would read as a version)", alias)}
	}
	return nil
}

// withDefaults returns a copy of c with every zero field set to its
// default; the maps and slices are copied, so the caller may change c.
func (c Config) withDefaults() Config {
	if c.Runtime == "" {
		c.Runtime = RuntimeProvided
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	if c.TmpMB == 0 {
		c.TmpMB = DefaultTmpMB
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	c.Env = maps.Clone(c.Env)
	c.Routes = slices.Clone(c.Routes)
	return c
}

// check validates a config that has its defaults filled in.
func (c *Config) check(name string) error {
	bad := func(field, format string, args ...any) error {
		return &Error{Code: CodeInvalidConfig, Function: name, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
	}
	switch c.Runtime {
	case RuntimeProvided, RuntimeGo, RuntimeNode:
	default:
		return bad("runtime", "unknown runtime %q; want %q, %q or %q", c.Runtime, RuntimeProvided, RuntimeGo, RuntimeNode)
	}
	if c.Runtime == RuntimeNode {
		if _, _, err := parseNodeHandler(c.Handler); err != nil {
			return bad("handler", "%v", err)
		}
	} else if len(c.Handler) > maxHandler || strings.ContainsFunc(c.Handler, isSpaceOrControl) {
		return bad("handler", "%q: at most %d characters, no spaces", c.Handler, maxHandler)
	}
	if c.MemoryMB < MinMemoryMB || c.MemoryMB > MaxMemoryMB {
		return bad("memoryMB", "%d MB is outside %d–%d MB", c.MemoryMB, MinMemoryMB, MaxMemoryMB)
	}
	if t := time.Duration(c.Timeout); t < MinTimeout || t > MaxTimeout {
		return bad("timeout", "%v is outside %v–%v", t, MinTimeout, MaxTimeout)
	}
	if c.TmpMB < MinTmpMB || c.TmpMB > MaxTmpMB {
		return bad("tmpMB", "%d MB is outside %d–%d MB", c.TmpMB, MinTmpMB, MaxTmpMB)
	}
	if c.Concurrency < 0 {
		return bad("concurrency", "%d is negative", c.Concurrency)
	}
	size := 0
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		v := c.Env[k]
		switch {
		case reservedEnv[k] || strings.HasPrefix(k, "AWS_LAMBDA_"):
			return bad("env", "%s is reserved: the runtime sets it", k)
		case !envName(k):
			return bad("env", "%q: a name is a letter then letters, digits or '_'", k)
		case strings.ContainsRune(v, 0):
			return bad("env", "%s: the value holds a NUL byte", k)
		}
		size += len(k) + len(v)
	}
	if size > MaxEnvBytes {
		return bad("env", "%d bytes of names and values; at most %d", size, MaxEnvBytes)
	}
	for _, r := range c.Routes {
		if err := checkRoute(r); err != nil {
			return bad("routes", "%q: %v", r, err)
		}
	}
	if len(c.Description) > maxDescription {
		return bad("description", "%d characters; at most %d", len(c.Description), maxDescription)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// envName reports whether k is a letter followed by letters, digits or '_'
// (Lambda's rule).
func envName(k string) bool {
	if k == "" || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return false
	}
	return validName(k, len(k)) && !strings.Contains(k, "-")
}

// checkRoute accepts "METHOD:/path": an upper-case method (or ANY) and a
// path from the root without spaces. The gateway owns the rest of the
// syntax ({param}, {proxy+}).
func checkRoute(r string) error {
	method, p, ok := strings.Cut(r, ":")
	if !ok || method == "" || !strings.HasPrefix(p, "/") {
		return fmt.Errorf(`want "METHOD:/path"`)
	}
	for i := 0; i < len(method); i++ {
		if method[i] < 'A' || method[i] > 'Z' {
			return fmt.Errorf("method %q: want upper-case letters (GET, POST, ANY…)", method)
		}
	}
	if strings.ContainsFunc(p, isSpaceOrControl) {
		return fmt.Errorf("the path holds a space or control character")
	}
	return nil
}

// parseNodeHandler splits a Node handler "dir/file.export" as Stoa's Node
// bootstrap does: the directory up to the last '/', the module up to the
// first '.' after it, and the export path after that. It returns the module
// path without extension ("dir/file") and the export path ("export").
func parseNodeHandler(h string) (module, export string, err error) {
	if h == "" {
		return "", "", fmt.Errorf(`required for node: "file.export" (app.handler runs the export handler of app.js)`)
	}
	if len(h) > maxHandler || strings.ContainsFunc(h, isSpaceOrControl) || strings.ContainsRune(h, '\\') {
		return "", "", fmt.Errorf(`%q: at most %d characters, no spaces or backslashes`, h, maxHandler)
	}
	slash := strings.LastIndexByte(h, '/')
	dir, rest := h[:slash+1], h[slash+1:]
	file, export, ok := strings.Cut(rest, ".")
	if !ok || file == "" || export == "" || slices.Contains(strings.Split(export, "."), "") {
		return "", "", fmt.Errorf(`%q: want "file.export" or "dir/file.export"`, h)
	}
	if dir != "" {
		if strings.HasPrefix(dir, "/") {
			return "", "", fmt.Errorf("%q: the directory must be relative to the bundle", h)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", "", fmt.Errorf("%q: the directory must stay inside the bundle, without '.', '..' or '//'", h)
			}
		}
	}
	return dir + file, export, nil
}
