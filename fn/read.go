package fn

// The registry's reads: functions, versions, resolving a qualifier, code.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Get returns the function.
func (r *Registry) Get(ctx context.Context, name string) (*Function, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, _, err := r.head(ctx, name)
	if err != nil {
		return nil, err
	}
	return &h.Function, nil
}

// List returns every function, sorted by name.
func (r *Registry) List(ctx context.Context) ([]Function, error) {
	heads, err := r.heads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Function, 0, len(heads))
	for _, h := range heads {
		out = append(out, h.Function)
	}
	slices.SortFunc(out, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// heads reads every function's record.
func (r *Registry) heads(ctx context.Context) ([]*head, error) {
	var out []*head
	err := r.each(ctx, headKey("*"), func(v []byte) error {
		h, err := decodeHead(v)
		if err != nil {
			return err
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// each calls f with the value of every key matching filter, read in one
// pass over the bucket.
func (r *Registry) each(ctx context.Context, filter string, f func([]byte) error) error {
	w, err := r.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("fn: listing: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("fn: listing: the watch ended early")
			}
			if e == nil {
				return nil
			}
			if err := f(e.Value()); err != nil {
				return fmt.Errorf("fn: listing: %s: %w", e.Key(), err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Versions returns every version of the function, oldest first.
func (r *Registry) Versions(ctx context.Context, name string) ([]Version, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, _, err := r.head(ctx, name)
	if err != nil {
		return nil, err
	}
	byNumber := map[int]Version{h.Latest: h.Current}
	err = r.each(ctx, "ver."+name+"."+h.ID+".*", func(b []byte) error {
		var v Version
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if v.Number >= 1 && v.Number <= h.Latest {
			byNumber[v.Number] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(byNumber))
	for n := 1; n <= h.Latest; n++ {
		if v, ok := byNumber[n]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Version returns version n of the function.
func (r *Registry) Version(ctx context.Context, name string, n int) (*Version, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, _, err := r.head(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.version(ctx, h, n)
}

func (r *Registry) version(ctx context.Context, h *head, n int) (*Version, error) {
	if n == h.Latest {
		v := h.Current
		return &v, nil
	}
	notFound := &Error{Code: CodeVersionNotFound, Function: h.Name, Message: fmt.Sprintf("no version %d (versions are 1 to %d)", n, h.Latest)}
	if n < 1 || n > h.Latest {
		return nil, notFound
	}
	val, _, err := r.get(ctx, versionKey(h.Name, h.ID, n))
	if errors.Is(err, errNoKey) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("fn: reading %s version %d: %w", h.Name, n, err)
	}
	var v Version
	if err := json.Unmarshal(val, &v); err != nil {
		return nil, fmt.Errorf("fn: reading %s version %d: %w", h.Name, n, err)
	}
	return &v, nil
}

// Resolve returns the version a qualifier names: "", "latest" or
// "$LATEST" for the newest, a number for that version, anything else for
// the alias of that name.
func (r *Registry) Resolve(ctx context.Context, name, qualifier string) (*Version, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, _, err := r.head(ctx, name)
	if err != nil {
		return nil, err
	}
	switch {
	case isLatest(qualifier):
		v := h.Current
		return &v, nil
	case allDigits(qualifier):
		n, err := strconv.Atoi(qualifier)
		if err != nil {
			n = -1 // too large to be a version
		}
		return r.version(ctx, h, n)
	}
	n, ok := h.Aliases[qualifier]
	if !ok {
		return nil, &Error{Code: CodeAliasNotFound, Function: name, Message: fmt.Sprintf("no alias %q", qualifier)}
	}
	return r.version(ctx, h, n)
}

// Code writes the code of v into dir: dir must not exist or be empty, and
// holds the code, complete, once Code returns nil (it is renamed into place
// from a directory beside it); on error dir is left as it was. The stored
// zip is checked against v.CodeSHA before anything is written
// ([ErrCodeCorrupt] if it differs), then unpacked under the same checks as
// a new bundle: nothing is written outside dir, links stay inside it, and
// files keep their execute bit (bootstrap's).
func (r *Registry) Code(ctx context.Context, v *Version, dir string) error {
	if v == nil || v.CodeObject == "" {
		return &Error{Code: CodeVersionNotFound, Message: "a version with no code"}
	}
	f, err := r.fetch(ctx, v)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	entries, err := listZip(f, v.CodeSize, r.lim.stored())
	if err != nil {
		return withFunction(err, v.Function)
	}
	t, err := newTree(entries, r.lim)
	if err != nil {
		return withFunction(err, v.Function)
	}
	return withFunction(t.extractTo(ctx, dir, r.lim), v.Function)
}

// fetch copies the stored code of v into a temporary file, checking its
// size and SHA-256, and returns the file; the caller removes it.
func (r *Registry) fetch(ctx context.Context, v *Version) (_ *os.File, err error) {
	corrupt := func(format string, args ...any) error {
		return &Error{Code: CodeCodeCorrupt, Function: v.Function, Message: fmt.Sprintf("version %d: ", v.Number) + fmt.Sprintf(format, args...)}
	}
	res, err := r.obs.Get(ctx, v.CodeObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, &Error{Code: CodeNotFound, Function: v.Function, Message: fmt.Sprintf("the code of version %d is gone", v.Number)}
	}
	if err != nil {
		return nil, fmt.Errorf("fn: reading the code of %s version %d: %w", v.Function, v.Number, err)
	}
	defer res.Close()
	f, err := os.CreateTemp("", "stoa-fn-*.zip")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h, tee := hashReader(io.LimitReader(res, r.lim.stored().zip+1))
	n, err := io.Copy(f, tee)
	if errors.Is(err, jetstream.ErrDigestMismatch) {
		return nil, corrupt("the object store's digest does not match")
	}
	if err != nil {
		return nil, fmt.Errorf("fn: reading the code of %s version %d: %w", v.Function, v.Number, err)
	}
	if n != v.CodeSize {
		return nil, corrupt("%d bytes stored, %d recorded", n, v.CodeSize)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != v.CodeSHA {
		return nil, corrupt("SHA-256 %s stored, %s recorded", got, v.CodeSHA)
	}
	return f, nil
}
