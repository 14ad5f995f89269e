package fn

import "time"

// Runtimes a function can use.
const (
	RuntimeProvided = "provided" // an executable bootstrap at the bundle's root
	RuntimeGo       = "go"       // a Go main package, built into a bootstrap
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

// Config is what a function version runs with. The zero value of each field
// means Lambda's default.
type Config struct {
	Runtime     string            `json:"runtime"`               // RuntimeProvided, RuntimeGo or RuntimeNode
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
type Duration time.Duration

// Function is a registered function: its versions and aliases.
type Function struct {
	Name    string         `json:"name"`
	Latest  int            `json:"latest"`  // the newest version number
	Aliases map[string]int `json:"aliases"` // alias → version; "latest" is implied
	Created time.Time      `json:"created"`
	Updated time.Time      `json:"updated"`
}

// Version is one immutable version of a function.
type Version struct {
	Function string    `json:"function"`
	Number   int       `json:"version"`
	Config   Config    `json:"config"`
	CodeSHA  string    `json:"codeSha256"` // of the stored zip
	CodeSize int64     `json:"codeSize"`   // of the stored zip, bytes
	Created  time.Time `json:"created"`
}
