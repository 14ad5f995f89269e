package lambda

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Lambda's limits, the defaults of [Config].
const (
	DefaultMemoryMB = 128
	DefaultTimeout  = 3 * time.Second
	DefaultTmpMB    = 512
	// MaxPayload is Lambda's sync request and response cap as its emulator
	// enforces it: 6 MiB + 100 bytes.
	MaxPayload = 6*1024*1024 + 100
	// MaxFiles is the file descriptors an environment may have open.
	MaxFiles = 1024
	// MaxProcs is the processes and threads an environment may run.
	MaxProcs = 1024
	// InitTimeout bounds how long a runtime may take to ask for its first
	// invocation, as Lambda's init phase does.
	InitTimeout = 10 * time.Second
)

// Runtimes.
const (
	RuntimeProvided = "provided" // an executable "bootstrap" at the bundle's root
	RuntimeNode     = "node"     // Handler "dir/file.export", run by Stoa's Node bootstrap
)

// Config describes one execution environment. The zero value of each field
// says what it does; only Bundle is required (and Handler for node).
type Config struct {
	// Bundle is the directory holding the function's code. Start copies it;
	// the directory itself is never changed.
	Bundle string
	// Runtime is RuntimeProvided (when empty) or RuntimeNode.
	Runtime string
	// Handler is _HANDLER: "dir/file.export" for node; passed through for provided.
	Handler string
	// MemoryMB is the memory size; 0 means 128. Over it the environment is killed.
	MemoryMB int
	// Timeout bounds each invocation; 0 means 3 s.
	Timeout time.Duration
	// TmpMB is the size of the private /tmp; 0 means 512.
	TmpMB int
	// Env holds the function's own environment variables. Names the runtime
	// sets itself (AWS_LAMBDA_*, _HANDLER, LAMBDA_TASK_ROOT, …) are refused.
	Env map[string]string
	// FunctionName names the function; empty means "function".
	FunctionName string
	// FunctionVersion is the version being run; empty means "$LATEST".
	FunctionVersion string
	// Region is AWS_REGION and part of the function ARN; empty means "us-east-1".
	Region string
	// UID is the uid (and gid) the environment runs as, when the host allows
	// switching; 0 picks a free one from 200000 up. Two live environments
	// must not share one.
	UID int
	// Dir keeps the environments' files (code copies, /tmp images). It
	// should be on a disk filesystem: /tmp images on tmpfs would be
	// memory. Empty means /var/tmp/stoa-lambda (stoa-lambda-<uid> for a
	// user other than root), or the same under os.TempDir() where /var/tmp
	// does not exist.
	Dir string
	// MaxRequestBytes and MaxResponseBytes cap payloads; 0 means MaxPayload.
	MaxRequestBytes, MaxResponseBytes int
	// Log receives the function's stdout and stderr and the START, END and
	// REPORT lines, one Write per line (newline included), from one
	// goroutine at a time; nil discards them.
	Log io.Writer
}

// reserved are the variables the runtime sets; a function may not override them.
var reserved = map[string]bool{
	"_HANDLER": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, "AWS_REGION": true,
	"AWS_DEFAULT_REGION": true, "AWS_EXECUTION_ENV": true, "TZ": true, "_X_AMZN_TRACE_ID": true,
}

// setDefaultPaths fills in Dir and TmpMB, which name a spare sandbox.
func (c *Config) setDefaultPaths() {
	if c.TmpMB == 0 {
		c.TmpMB = DefaultTmpMB
	}
	if c.Dir == "" {
		name := "stoa-lambda"
		if uid := os.Geteuid(); uid != 0 {
			name += "-" + strconv.Itoa(uid) // users do not share one
		}
		c.Dir = filepath.Join(os.TempDir(), name)
		if st, err := os.Stat("/var/tmp"); err == nil && st.IsDir() {
			c.Dir = filepath.Join("/var/tmp", name)
		}
	}
}

func (c Config) withDefaults() (Config, error) {
	if c.Runtime == "" {
		c.Runtime = RuntimeProvided
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.setDefaultPaths()
	if c.FunctionName == "" {
		c.FunctionName = "function"
	}
	if c.FunctionVersion == "" {
		c.FunctionVersion = "$LATEST"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = MaxPayload
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = MaxPayload
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	bad := func(field string, v any, why string) (Config, error) {
		return c, fmt.Errorf("lambda: config %s=%v: %s", field, v, why)
	}
	switch {
	case c.Bundle == "":
		return bad("Bundle", `""`, "required")
	case c.Runtime != RuntimeProvided && c.Runtime != RuntimeNode:
		return bad("Runtime", c.Runtime, `want "provided" or "node"`)
	case c.Runtime == RuntimeNode && c.Handler == "":
		return bad("Handler", `""`, "required for node (dir/file.export)")
	case c.MemoryMB < 16:
		return bad("MemoryMB", c.MemoryMB, "below 16")
	case c.Timeout < 0:
		return bad("Timeout", c.Timeout, "negative")
	case c.TmpMB < 8:
		return bad("TmpMB", c.TmpMB, "below 8")
	case c.MaxRequestBytes < 0 || c.MaxResponseBytes < 0:
		return bad("MaxRequestBytes/MaxResponseBytes", c.MaxRequestBytes, "negative")
	case c.UID < 0:
		return bad("UID", c.UID, "negative")
	}
	for k := range c.Env {
		if reserved[k] || strings.HasPrefix(k, "AWS_LAMBDA_") || k == "" || strings.ContainsAny(k, "=\x00") {
			return bad("Env", k, "reserved or invalid variable name")
		}
	}
	if st, err := os.Stat(c.Bundle); err != nil || !st.IsDir() {
		return bad("Bundle", c.Bundle, "not a directory")
	}
	if c.Runtime == RuntimeProvided {
		if st, err := os.Stat(filepath.Join(c.Bundle, "bootstrap")); err != nil || st.Mode()&0o111 == 0 {
			return bad("Bundle", c.Bundle, "no executable bootstrap at its root")
		}
	}
	return c, nil
}

// Limit is one of Lambda's limits as this host can enforce it.
type Limit struct {
	Name     string // "memory", "timeout", "tmp", "processes", "file descriptors", "payload", "isolation"
	Enforced bool
	How      string // the mechanism when Enforced, else why not
}

// String is the limit as "stoa up" prints it: "memory: enforced (how)".
func (l Limit) String() string {
	if l.Enforced {
		return l.Name + ": enforced (" + l.How + ")"
	}
	return l.Name + ": NOT enforced (" + l.How + ")"
}

// InvokeOpts are the per-invocation extras Lambda passes to the runtime.
// Every field is optional.
type InvokeOpts struct {
	// RequestID is Lambda-Runtime-Aws-Request-Id; empty means a random UUID.
	RequestID string
	// FunctionARN is Lambda-Runtime-Invoked-Function-Arn; empty means
	// arn:aws:lambda:<region>:000000000000:function:<name>.
	FunctionARN string
	// TraceID is Lambda-Runtime-Trace-Id; empty means a new X-Ray style id.
	TraceID string
	// ClientContext is the client context JSON (already base64-decoded).
	ClientContext string
	// CognitoIdentity is the Cognito identity JSON.
	CognitoIdentity string
	// TenantID is Lambda-Runtime-Aws-Tenant-Id.
	TenantID string
}

// Result is what an invocation gave back.
type Result struct {
	RequestID string
	// Payload is the function's response, or its error body when
	// FunctionError is set: the bytes Lambda would answer the invoker with.
	Payload []byte
	// FunctionError is "Unhandled" when the function failed (Lambda's
	// X-Amz-Function-Error header), "" on success.
	FunctionError string
	// ErrorType is the errorType of the failure, from the error body.
	ErrorType string
	// Cold is true for the first invocation of an environment.
	Cold bool
	// InitDuration is the time from spawn to the runtime's first request
	// for work; set on a cold start only.
	InitDuration time.Duration
	// Duration is the time from handing over the event to the answer.
	Duration time.Duration
}
