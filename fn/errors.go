package fn

// Error codes: stable strings naming what a registry call refused or could
// not find. Match them with errors.Is against the sentinel errors, which
// compares codes, so an error decoded from the wire matches as a local one.
const (
	CodeInvalidName     = "fn_invalid_name"      // not ^[a-zA-Z0-9_-]{1,64}$
	CodeInvalidConfig   = "fn_invalid_config"    // a Config field out of range, an unknown runtime, a malformed handler, a reserved env name
	CodeInvalidBundle   = "fn_invalid_bundle"    // no bootstrap, no handler file, no main package, a path escaping the bundle, not a zip
	CodeBundleTooLarge  = "fn_bundle_too_large"  // over MaxZipBytes zipped or MaxCodeBytes unzipped
	CodeBuildFailed     = "fn_build_failed"      // go build failed; Message holds its output
	CodeInvalidAlias    = "fn_invalid_alias"     // a bad alias name, or "latest"
	CodeExists          = "fn_exists"            // Create of a name that is taken
	CodeNotFound        = "fn_not_found"         // no such function
	CodeVersionNotFound = "fn_version_not_found" // no such version of the function
	CodeAliasNotFound   = "fn_alias_not_found"   // no such alias of the function
	CodeCodeCorrupt     = "fn_code_corrupt"      // the stored code does not match its SHA-256
	CodeConflict        = "fn_conflict"          // too many concurrent writers; try again
)

// Sentinel errors, one per code, for errors.Is:
//
//	if errors.Is(err, fn.ErrNotFound) { … }
var (
	ErrInvalidName     = &Error{Code: CodeInvalidName, Message: "invalid function name"}
	ErrInvalidConfig   = &Error{Code: CodeInvalidConfig, Message: "invalid configuration"}
	ErrInvalidBundle   = &Error{Code: CodeInvalidBundle, Message: "invalid bundle"}
	ErrBundleTooLarge  = &Error{Code: CodeBundleTooLarge, Message: "bundle too large"}
	ErrBuildFailed     = &Error{Code: CodeBuildFailed, Message: "build failed"}
	ErrInvalidAlias    = &Error{Code: CodeInvalidAlias, Message: "invalid alias"}
	ErrExists          = &Error{Code: CodeExists, Message: "function exists"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "function not found"}
	ErrVersionNotFound = &Error{Code: CodeVersionNotFound, Message: "version not found"}
	ErrAliasNotFound   = &Error{Code: CodeAliasNotFound, Message: "alias not found"}
	ErrCodeCorrupt     = &Error{Code: CodeCodeCorrupt, Message: "stored code is corrupt"}
	ErrConflict        = &Error{Code: CodeConflict, Message: "too many concurrent changes"}
)

// Error is the one error type of the registry. Code is stable (one of the
// Code… constants); Message says what is wrong in words a user can act on;
// Function and Field name the function and the Config field (or bundle
// path) at fault, when there is one. Err is a local cause (a NATS error, an
// exec error) and never crosses the wire.
type Error struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Function string `json:"function,omitempty"`
	Field    string `json:"field,omitempty"`
	Err      error  `json:"-"`
}

// Error returns "code: function: message: cause", leaving out what is empty.
func (e *Error) Error() string {
	s := e.Code
	if e.Function != "" {
		s += ": " + e.Function
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
