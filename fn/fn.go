package fn

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Runtimes a function can use.
const (
	RuntimeProvided = "provided" // an executable bootstrap at the bundle's root
	RuntimeGo       = "go"       // a Go main package, built into a bootstrap; stored versions run as provided
	RuntimeNode     = "node"     // a Node.js handler, "file.export"
)

// Defaults, Lambda's.
const (
	DefaultMemoryMB    = 128
	DefaultTimeout     = 3 * time.Second
	DefaultTmpMB       = 512
	DefaultConcurrency = 10
	// MaxZipBytes and MaxCodeBytes cap a bundle zipped and unzipped, as
	// Lambda caps direct uploads (50 MB) and unzipped code (250 MB).
	MaxZipBytes  = 50 << 20
	MaxCodeBytes = 250 << 20
)

// The ranges a [Config] must keep to, Lambda's.
const (
	MinMemoryMB = 128
	MaxMemoryMB = 10240
	MinTimeout  = 1 * time.Second
	MaxTimeout  = 900 * time.Second
	MinTmpMB    = 512
	MaxTmpMB    = 10240
	// MaxEnvBytes caps the function's environment: the sum of the lengths
	// of every name and value, as Lambda counts its 4 KB.
	MaxEnvBytes = 4 << 10
)

// Config is what a function version runs with. The zero value of each field
// means Lambda's default; a stored [Version] has every default filled in, so
// it keeps its meaning if a later Stoa changes a default.
type Config struct {
	Runtime     string            `json:"runtime"`               // RuntimeProvided (also when empty), RuntimeGo or RuntimeNode
	Handler     string            `json:"handler,omitempty"`     // node: "file.export"; others: passed as _HANDLER
	MemoryMB    int               `json:"memoryMB,omitempty"`    // 0 means DefaultMemoryMB
	Timeout     Duration          `json:"timeout,omitempty"`     // 0 means DefaultTimeout
	TmpMB       int               `json:"tmpMB,omitempty"`       // 0 means DefaultTmpMB
	Concurrency int               `json:"concurrency,omitempty"` // environments at most, per worker; 0 means DefaultConcurrency
	Env         map[string]string `json:"env,omitempty"`         // the function's own environment variables
	Routes      []string          `json:"routes,omitempty"`      // gateway routes, "GET:/hello"
	Description string            `json:"description,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as text ("3s").
// It also reads a JSON number, as seconds (Lambda's unit for timeouts).
type Duration time.Duration

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string, "3s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string that time.ParseDuration accepts ("3s",
// "1m30s") or a number of seconds (3, 2.5).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fn: duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("fn: duration %s: want a string (\"3s\") or a number of seconds", b)
	}
	if secs > float64(1<<63-1)/float64(time.Second) || secs < -float64(1<<63-1)/float64(time.Second) {
		return fmt.Errorf("fn: duration %s: out of range", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Function is a registered function: its versions and aliases.
type Function struct {
	Name    string         `json:"name"`
	Latest  int            `json:"latest"`  // the newest version number
	Aliases map[string]int `json:"aliases"` // alias → version; "latest" is implied
	Created time.Time      `json:"created"`
	Updated time.Time      `json:"updated"` // the last Create, Update, SetAlias or DeleteAlias
}

// Version is one immutable version of a function.
type Version struct {
	Function string    `json:"function"`
	Number   int       `json:"version"`
	Config   Config    `json:"config"`     // with every default filled in
	CodeSHA  string    `json:"codeSha256"` // of the stored zip, hex
	CodeSize int64     `json:"codeSize"`   // of the stored zip, bytes
	Created  time.Time `json:"created"`
	// CodeObject names the stored zip in the code bucket ([CodeBucket]).
	// Versions that did not change the code share their predecessor's.
	CodeObject string `json:"codeObject"`
}
