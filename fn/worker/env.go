package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
)

// env is one execution environment of a pool, with the writer that
// publishes its logs.
type env struct {
	*lambda.Env
	log       *logWriter
	closeOnce sync.Once
}

// close closes the environment, then publishes the log lines it wrote
// last (lambda.Env.Close delivers them before it returns).
func (e *env) close() {
	e.closeOnce.Do(func() {
		e.Env.Close()
		e.log.flush()
	})
}

// startEnv starts an environment of p's version: it fetches the version's
// code on the first start, then starts the runtime and waits for its init.
func (w *Worker) startEnv(ctx context.Context, p *pool) (*env, error) {
	dir, err := p.code(ctx)
	if err != nil {
		return nil, err
	}
	c := p.v.Config
	rt := lambda.RuntimeProvided // "provided", and "go", built into a bootstrap when stored
	if c.Runtime == fn.RuntimeNode {
		rt = lambda.RuntimeNode
	}
	lw := newLogWriter(w.Conn, p.v.Function, p.v.Number)
	le, err := lambda.Start(ctx, lambda.Config{
		Bundle:          dir,
		Runtime:         rt,
		Handler:         c.Handler,
		MemoryMB:        c.MemoryMB,
		Timeout:         time.Duration(c.Timeout),
		TmpMB:           c.TmpMB,
		Env:             c.Env,
		FunctionName:    p.v.Function,
		FunctionVersion: strconv.Itoa(p.v.Number),
		Region:          w.Region,
		Dir:             w.EnvDir,
		Log:             lw,
	})
	if err != nil {
		lw.flush() // what the runtime wrote before it failed
		return nil, err
	}
	return &env{Env: le, log: lw}, nil
}

// closeEnv closes e in the background; Close and Shutdown wait for it.
func (w *Worker) closeEnv(e *env) {
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		e.close()
	}()
}

// code returns the directory holding the pool's code, fetching it from
// the registry the first time. Environments copy it when they start.
func (p *pool) code(ctx context.Context) (string, error) {
	p.codeMu.Lock()
	defer p.codeMu.Unlock()
	if p.codeDir != "" {
		return p.codeDir, nil
	}
	parent := filepath.Join(p.w.dir, "code")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, safeName(p.key)+"-")
	if err != nil {
		return "", err
	}
	if err := p.w.Registry.Code(ctx, p.v, dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("fn/worker: code of %s: %w", p.key, err)
	}
	p.codeDir = dir
	return dir, nil
}

// removeCode deletes the pool's code once the pool is gone.
func (p *pool) removeCode() {
	p.codeMu.Lock()
	defer p.codeMu.Unlock()
	if p.codeDir != "" {
		os.RemoveAll(p.codeDir)
		p.codeDir = ""
	}
}

// safeName keeps letters, digits, '-' and '_' of s, for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
