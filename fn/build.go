package fn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// maxBuildOutput caps the go command's output kept in an error.
const maxBuildOutput = 8 << 10

// checkCode checks that t holds what cfg's runtime needs: an executable
// bootstrap at the root (provided), the handler's file (node). A Go main
// package is checked by buildGo.
func checkCode(t *tree, name string, cfg *Config) error {
	switch cfg.Runtime {
	case RuntimeProvided:
		return checkBootstrap(t, name)
	case RuntimeNode:
		module, _, err := parseNodeHandler(cfg.Handler)
		if err != nil {
			return &Error{Code: CodeInvalidConfig, Function: name, Field: "handler", Message: "handler: " + err.Error()}
		}
		for _, ext := range []string{".js", ".mjs", ".cjs"} {
			if e := t.lookup(module + ext); e != nil && e.kind == kindFile {
				return nil
			}
		}
		return &Error{Code: CodeInvalidBundle, Function: name, Field: "handler",
			Message: fmt.Sprintf("handler %q: no %s.js, %s.mjs or %s.cjs in the bundle", cfg.Handler, module, module, module)}
	}
	return nil
}

// checkBootstrap refuses a tree without an executable file "bootstrap" at
// its root (a link to one inside the bundle will do).
func checkBootstrap(t *tree, name string) error {
	e := t.lookup("bootstrap")
	switch {
	case e == nil:
		return &Error{Code: CodeInvalidBundle, Function: name, Field: "bootstrap",
			Message: "no bootstrap at the bundle's root: a provided function is an executable named bootstrap"}
	case e.kind != kindFile:
		return &Error{Code: CodeInvalidBundle, Function: name, Field: "bootstrap", Message: "bootstrap is not a file"}
	case !e.exec:
		return &Error{Code: CodeInvalidBundle, Function: name, Field: "bootstrap", Message: "bootstrap is not executable (chmod +x bootstrap)"}
	}
	return nil
}

// buildGo builds the Go main package at the root of the tree into a
// bootstrap and returns the tree with it, which is the source with the
// built bootstrap at its root (a bootstrap in the source is replaced). It
// runs "go build -trimpath" with CGO_ENABLED=0 for linux on this machine's
// architecture, with the environment of this process (GOPATH, GOPROXY,
// GOFLAGS), so modules the code requires are fetched as go build fetches
// them. A bundle without a go.mod gets one ("go mod init bootstrap").
// The files of the returned tree live in tmp, which the caller removes
// after calling done.
func buildGo(ctx context.Context, t *tree, name, tmp string, lim limits) (_ *tree, done func(), _ error) {
	src := filepath.Join(tmp, "src")
	if err := t.extractTo(ctx, src, lim); err != nil {
		return nil, nil, err
	}
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, ctxt.CgoEnabled = "linux", runtime.GOARCH, false
	pkg, err := ctxt.ImportDir(src, 0)
	var noGo *build.NoGoError
	switch {
	case errors.As(err, &noGo):
		return nil, nil, &Error{Code: CodeInvalidBundle, Function: name, Message: "no Go files at the bundle's root: a go function is a main package"}
	case err != nil:
		return nil, nil, &Error{Code: CodeInvalidBundle, Function: name, Message: "reading the Go package at the bundle's root", Err: err}
	case pkg.Name != "main":
		return nil, nil, &Error{Code: CodeInvalidBundle, Function: name,
			Message: fmt.Sprintf("the Go package at the bundle's root is %q; a go function is package main", pkg.Name)}
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, nil, &Error{Code: CodeBuildFailed, Function: name, Message: "no go command on PATH to build the function", Err: err}
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOTOOLCHAIN=local", "GOWORK=off")
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir, cmd.Env = src, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			text := strings.TrimSpace(out.String())
			if len(text) > maxBuildOutput {
				text = text[:maxBuildOutput] + "…"
			}
			return &Error{Code: CodeBuildFailed, Function: name, Message: "go " + args[0] + ": " + text, Err: err}
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); errors.Is(err, os.ErrNotExist) {
		if err := run("mod", "init", "bootstrap"); err != nil {
			return nil, nil, err
		}
	}
	out := filepath.Join(tmp, "bootstrap")
	if err := run("build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "."); err != nil {
		return nil, nil, err
	}
	if err := os.RemoveAll(filepath.Join(src, "bootstrap")); err != nil {
		return nil, nil, err
	}
	if err := os.Rename(out, filepath.Join(src, "bootstrap")); err != nil {
		return nil, nil, err
	}
	entries, done, err := dirBundle(src).list(lim)
	if err != nil {
		return nil, nil, err
	}
	bt, err := newTree(entries, lim)
	if err != nil {
		done()
		return nil, nil, err
	}
	return bt, done, nil
}
