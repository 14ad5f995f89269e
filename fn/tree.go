package fn

import (
	"archive/zip"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// zipTime is the one modification time of every entry of a stored zip,
// the zip format's epoch, so that equal code gives equal bytes.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// maxHops caps the links followed in resolving one path, as Linux's 40.
const maxHops = 40

// tree is a checked bundle: no duplicate paths, nothing under a file or a
// link, every link resolving inside the bundle, every directory listed,
// entries sorted by path.
type tree struct {
	entries []*entry
	byName  map[string]*entry
	steps   int // path segments walked by resolve, against maxSteps
}

// newTree checks entries and returns them as a tree.
func newTree(entries []*entry, lim limits) (*tree, error) {
	t := &tree{byName: make(map[string]*entry, len(entries))}
	for _, e := range entries {
		if prev, ok := t.byName[e.name]; ok {
			if prev.kind == kindDir && e.kind == kindDir {
				continue
			}
			return nil, bundleError(e.name, "%s appears twice", e.name)
		}
		t.byName[e.name] = e
	}
	// Parents: each must be a directory; add the ones not listed.
	for _, e := range entries {
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			parent, ok := t.byName[p]
			if !ok {
				t.byName[p] = &entry{name: p, kind: kindDir}
				continue
			}
			if parent.kind != kindDir {
				return nil, bundleError(e.name, "%s is inside %s, which is not a directory", e.name, p)
			}
		}
	}
	if len(t.byName) > lim.entries {
		return nil, tooLarge("more than %d files and directories", lim.entries)
	}
	for _, e := range t.byName {
		if e.kind == kindLink {
			if err := t.checkLink(e); err != nil {
				return nil, err
			}
		}
	}
	t.entries = make([]*entry, 0, len(t.byName))
	for _, e := range t.byName {
		t.entries = append(t.entries, e)
	}
	slices.SortFunc(t.entries, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	return t, nil
}

// checkLink refuses a link whose target leaves the bundle, following the
// links it passes through as the kernel would.
func (t *tree) checkLink(e *entry) error {
	if strings.ContainsAny(e.target, "\\\x00") {
		return bundleError(e.name, "link %s → %q: the target holds a backslash or NUL byte", e.name, e.target)
	}
	if strings.HasPrefix(e.target, "/") {
		return bundleError(e.name, "link %s → %s: %v", e.name, e.target, errEscapes)
	}
	if _, err := t.resolve(path.Join(path.Dir(e.name), "") + "/" + e.target); err != nil {
		return bundleError(e.name, "link %s → %s: %v", e.name, e.target, err)
	}
	return nil
}

var (
	errEscapes = errors.New("leaves the bundle")
	errLoop    = errors.New("too many levels of links")
	errComplex = errors.New("too many links to follow")
)

// maxSteps bounds the path segments the link checks of one tree may walk,
// so that a bundle of links expanding into one another costs bounded time.
const maxSteps = 1 << 20

// resolve follows p, a slash-separated path from the bundle's root, through
// the tree's links and returns the entry it ends on, or nil if it ends on
// nothing listed. It fails if the walk ever goes above the root, meets an
// absolute target, follows more than maxHops links, or has walked more than
// maxSteps segments since the tree was made.
func (t *tree) resolve(p string) (*entry, error) {
	var cur []byte // the path walked so far, "a/b"
	var ends []int // the length of cur before each of its segments
	pending := strings.Split(p, "/")
	var last *entry
	hops := 0
	for len(pending) > 0 {
		if t.steps++; t.steps > maxSteps {
			return nil, errComplex
		}
		seg := pending[0]
		pending = pending[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(ends) == 0 {
				return nil, errEscapes
			}
			cur, ends = cur[:ends[len(ends)-1]], ends[:len(ends)-1]
			last = nil
			continue
		}
		ends = append(ends, len(cur))
		if len(cur) > 0 {
			cur = append(cur, '/')
		}
		cur = append(cur, seg...)
		last = t.byName[string(cur)]
		if last == nil || last.kind != kindLink {
			continue
		}
		if hops++; hops > maxHops {
			return nil, errLoop
		}
		if strings.HasPrefix(last.target, "/") {
			return nil, errEscapes
		}
		cur, ends = cur[:ends[len(ends)-1]], ends[:len(ends)-1]
		pending = append(strings.Split(last.target, "/"), pending...)
		last = nil
	}
	return last, nil
}

// lookup returns the entry at p, following links, or nil.
func (t *tree) lookup(p string) *entry {
	e, err := t.resolve(p)
	if err != nil {
		return nil
	}
	return e
}

// budget counts the bytes of code read from a bundle against limits.code.
type budget struct {
	left int64
	lim  int64
}

// copy copies the entry's content to w, failing once more than the budget
// has been read: the read stops there, whatever the entry declared.
func (b *budget) copy(w io.Writer, e *entry) error {
	rc, err := e.open()
	if err != nil {
		return bundleError(e.name, "reading %s: %v", e.name, err)
	}
	defer rc.Close()
	n, err := io.Copy(w, io.LimitReader(rc, b.left+1))
	b.left -= n
	if b.left < 0 {
		return tooLarge("more than %d bytes of code unzipped", b.lim)
	}
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return fe
		}
		return bundleError(e.name, "reading %s: %v", e.name, err)
	}
	return nil
}

// capWriter passes writes to w until more than max bytes have been written.
type capWriter struct {
	w   io.Writer
	n   int64
	max int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, tooLarge("the zip is over %d bytes", c.max)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// zipped is a normalised zip: its bytes in a temporary file, its SHA-256
// and its size.
type zipped struct {
	file *os.File
	sha  string
	size int64
}

// close removes the temporary file.
func (z *zipped) close() {
	if z != nil && z.file != nil {
		z.file.Close()
		os.Remove(z.file.Name())
	}
}

// reader returns the zip from its start.
func (z *zipped) reader() io.Reader { return io.NewSectionReader(z.file, 0, z.size) }

// zip writes the tree as a normalised zip into a temporary file.
func (t *tree) zip(ctx context.Context, lim limits) (_ *zipped, err error) {
	f, err := os.CreateTemp("", "stoa-fn-*.zip")
	if err != nil {
		return nil, err
	}
	z := &zipped{file: f}
	defer func() {
		if err != nil {
			z.close()
		}
	}()
	h := sha256.New()
	cw := &capWriter{w: io.MultiWriter(f, h), max: lim.stored().zip}
	if err := t.writeZip(ctx, cw, lim); err != nil {
		return nil, err
	}
	z.sha, z.size = hex.EncodeToString(h.Sum(nil)), cw.n
	return z, nil
}

// writeZip writes the tree as a normalised zip to w.
func (t *tree) writeZip(ctx context.Context, w io.Writer, lim limits) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed) // deploys wait on this; see RATIONALE.md
	})
	b := &budget{left: lim.code, lim: lim.code}
	for _, e := range t.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		fh := &zip.FileHeader{Name: e.name, Modified: zipTime}
		switch e.kind {
		case kindDir:
			fh.Name += "/"
			fh.SetMode(fs.ModeDir | 0o755)
		case kindLink:
			fh.SetMode(fs.ModeSymlink | 0o777)
		case kindFile:
			fh.Method = zip.Deflate
			fh.SetMode(0o644)
			if e.exec {
				fh.SetMode(0o755)
			}
		}
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return wrapWrite(err)
		}
		switch e.kind {
		case kindLink:
			if _, err := io.WriteString(fw, e.target); err != nil {
				return wrapWrite(err)
			}
		case kindFile:
			if err := b.copy(fw, e); err != nil {
				return wrapWrite(err)
			}
		}
	}
	return wrapWrite(zw.Close())
}

// wrapWrite keeps an *Error (a cap reached) as it is.
func wrapWrite(err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return err
}

// extract writes the tree into dir, which must exist and be empty. Every
// write goes through an os.Root on dir, so that even a tree that passed
// its checks wrongly could not write outside it; links are made last.
func (t *tree) extract(ctx context.Context, dir string, lim limits) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	b := &budget{left: lim.code, lim: lim.code}
	for _, e := range t.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch e.kind {
		case kindDir:
			if err := root.MkdirAll(e.name, 0o755); err != nil {
				return err
			}
			if err := root.Chmod(e.name, 0o755); err != nil {
				return err
			}
		case kindFile:
			if err := root.MkdirAll(path.Dir(e.name), 0o755); err != nil {
				return err
			}
			perm := fs.FileMode(0o644)
			if e.exec {
				perm = 0o755
			}
			f, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
			if err != nil {
				return err
			}
			if err := b.copy(f, e); err != nil {
				f.Close()
				return err
			}
			if err := f.Chmod(perm); err != nil { // past the umask
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
	for _, e := range t.entries {
		if e.kind != kindLink {
			continue
		}
		if err := root.MkdirAll(path.Dir(e.name), 0o755); err != nil {
			return err
		}
		if err := root.Symlink(e.target, e.name); err != nil {
			return err
		}
	}
	return nil
}

// extractTo writes the tree into dir atomically: into a new directory
// beside it, renamed to dir once complete. dir must not exist or be empty;
// on error it is left as it was.
func (t *tree) extractTo(ctx context.Context, dir string, lim limits) error {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	switch st, err := os.Lstat(dir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("fn: %s is not a directory", dir)
	default:
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(des) > 0 {
			return fmt.Errorf("fn: %s is not empty", dir)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".stoa-*")
	if err != nil {
		return err
	}
	if err := t.extract(ctx, tmp, lim); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	existed := os.Remove(dir) == nil // an empty directory: os.Rename will not replace it
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if existed {
			os.Mkdir(dir, 0o755)
		}
		return err
	}
	return nil
}

// hashReader returns a SHA-256 hash and a reader that feeds it.
func hashReader(r io.Reader) (hash.Hash, io.Reader) {
	h := sha256.New()
	return h, io.TeeReader(r, h)
}
