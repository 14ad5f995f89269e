package fn

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Bundle is a function's code as it is handed to [Registry.Create] or
// [Registry.Update]: a directory ([DirBundle]) or a zip ([ZipBundle],
// [ZipBytes]). Nothing is read until the registry stores it; then the
// bundle is checked (paths, links, sizes) and normalised to a deterministic
// zip: entries sorted by path, every directory listed, fixed times, modes
// reduced to 0755 for executables and 0644 for other files. The SHA-256 of
// that zip is [Version.CodeSHA].
//
// Only this package implements Bundle.
type Bundle interface {
	// list returns the bundle's entries, names checked but the tree not
	// yet (duplicates, links), and a function that releases what list
	// opened. It refuses early what it can see to be over the limits.
	list(lim limits) (entries []*entry, done func(), err error)
}

// DirBundle is the code in the directory at dir. Regular files,
// directories and symbolic links that stay inside dir are taken; anything
// else (a link escaping dir, a socket, a device) refuses the bundle.
func DirBundle(dir string) Bundle { return dirBundle(dir) }

// ZipBundle is the code in the zip file at file.
func ZipBundle(file string) Bundle { return zipFile(file) }

// ZipBytes is the code in the zip b. The registry reads b and does not keep it.
func ZipBytes(b []byte) Bundle { return zipBytes(b) }

// limits are the caps a bundle is read under; tests lower them.
type limits struct {
	zip     int64 // the zip, bytes
	code    int64 // the unzipped files and links, bytes
	entries int   // files, directories and links
}

var defaultLimits = limits{zip: MaxZipBytes, code: MaxCodeBytes, entries: 100_000}

// stored returns the limits a stored zip is read under: it is re-compressed
// and carries every directory, so it may come out a little larger than the
// zip it was made from, but never larger than the code it holds plus the
// zip's cap.
func (l limits) stored() limits {
	l.zip += l.code
	return l
}

// maxLink caps a symbolic link's target.
const maxLink = 4096

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindLink
)

// entry is one path of a bundle.
type entry struct {
	name   string // clean, relative, slash-separated, no trailing slash
	kind   kind
	exec   bool   // a file with an execute bit
	target string // a link's target
	size   int64  // a file's size as its source declares it (a zip header, stat)
	open   func() (io.ReadCloser, error)
}

// bundleError is an invalid-bundle *Error about the entry at p.
func bundleError(p, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidBundle, Field: p, Message: fmt.Sprintf(format, args...)}
}

// tooLarge is a too-large *Error.
func tooLarge(format string, args ...any) *Error {
	return &Error{Code: CodeBundleTooLarge, Message: fmt.Sprintf(format, args...)}
}

// cleanName checks a path from a bundle and returns it cleaned: relative,
// slash-separated, without "." segments, duplicate or trailing slashes. ""
// means the bundle's root. A path with a ".." segment, an absolute path, a
// backslash, a drive letter or a NUL byte is refused.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", bundleError(name, "an empty path")
	case strings.ContainsAny(name, "\\\x00"):
		return "", bundleError(name, "path %q holds a backslash or NUL byte", name)
	case strings.HasPrefix(name, "/"):
		return "", bundleError(name, "path %q is absolute", name)
	case len(name) >= 2 && name[1] == ':':
		return "", bundleError(name, "path %q starts with a drive letter", name)
	case len(name) > 4095:
		return "", bundleError(name[:64]+"…", "path longer than 4095 bytes")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", bundleError(name, "path %q leaves the bundle (..)", name)
		}
		if len(seg) > 255 {
			return "", bundleError(name, "path %q has a name longer than 255 bytes", name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

type dirBundle string

func (d dirBundle) list(lim limits) ([]*entry, func(), error) {
	st, err := os.Stat(string(d))
	if err != nil {
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: "reading the bundle", Err: err}
	}
	if !st.IsDir() {
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: fmt.Sprintf("%s is not a directory", string(d))}
	}
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: "reading the bundle", Err: err}
	}
	done := func() { root.Close() }
	var entries []*entry
	var total int64
	err = fs.WalkDir(root.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return &Error{Code: CodeInvalidBundle, Field: p, Message: "reading the bundle", Err: err}
		}
		if p == "." {
			return nil
		}
		name, err := cleanName(p)
		if err != nil {
			return err
		}
		if len(entries) >= lim.entries {
			return tooLarge("more than %d files and directories", lim.entries)
		}
		e := &entry{name: name}
		switch t := de.Type(); {
		case t.IsDir():
			e.kind = kindDir
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return &Error{Code: CodeInvalidBundle, Field: p, Message: "reading a link", Err: err}
			}
			e.kind, e.target = kindLink, target
			total += int64(len(target))
		case t.IsRegular():
			info, err := de.Info()
			if err != nil {
				return &Error{Code: CodeInvalidBundle, Field: p, Message: "reading the bundle", Err: err}
			}
			e.kind, e.exec, e.size = kindFile, info.Mode()&0o111 != 0, info.Size()
			total += info.Size()
			e.open = func() (io.ReadCloser, error) {
				f, err := root.Open(p)
				if err != nil {
					return nil, err
				}
				if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
					f.Close()
					return nil, fmt.Errorf("%s is no longer a regular file", p)
				}
				return f, nil
			}
		default:
			return bundleError(name, "%s is a %v, not a file, directory or link", name, t.Type())
		}
		if total > lim.code {
			return tooLarge("more than %d bytes of code unzipped", lim.code)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	return entries, done, nil
}

type zipFile string

func (z zipFile) list(lim limits) ([]*entry, func(), error) {
	f, err := os.Open(string(z))
	if err != nil {
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: "reading the zip", Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: "reading the zip", Err: err}
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &Error{Code: CodeInvalidBundle, Message: fmt.Sprintf("%s is not a zip file", string(z))}
	}
	entries, err := listZip(f, st.Size(), lim)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return entries, func() { f.Close() }, nil
}

// storedZip is a zip the registry stored, read back to check it again; the
// registry reads it under limits.stored.
type storedZip string

func (z storedZip) list(lim limits) ([]*entry, func(), error) { return zipFile(z).list(lim) }

type zipBytes []byte

func (z zipBytes) list(lim limits) ([]*entry, func(), error) {
	entries, err := listZip(bytes.NewReader(z), int64(len(z)), lim)
	return entries, func() {}, err
}

// listZip lists the zip in r. Nothing in the zip is trusted: names are
// checked, a link's target is read under a cap, and the sizes its headers
// declare serve only to refuse early; the caps hold on the bytes read.
func listZip(r io.ReaderAt, size int64, lim limits) ([]*entry, error) {
	if size > lim.zip {
		return nil, tooLarge("the zip is %d bytes; at most %d", size, lim.zip)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure paths: checked below, with a better message
		return nil, &Error{Code: CodeInvalidBundle, Message: "not a readable zip", Err: err}
	}
	if len(zr.File) > lim.entries {
		return nil, tooLarge("more than %d files and directories", lim.entries)
	}
	entries := make([]*entry, 0, len(zr.File))
	var declared uint64
	for _, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return nil, err
		}
		mode := f.Mode()
		isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/")
		if name == "" {
			if !isDir {
				return nil, bundleError(f.Name, "entry %q is not a directory but names the root", f.Name)
			}
			continue
		}
		e := &entry{name: name}
		switch {
		case isDir:
			e.kind = kindDir
		case mode&fs.ModeSymlink != 0:
			target, err := readLink(f)
			if err != nil {
				return nil, err
			}
			e.kind, e.target = kindLink, target
		case mode.IsRegular():
			e.kind, e.exec = kindFile, mode&0o111 != 0
			e.size = int64(min(f.UncompressedSize64, 1<<62))
			declared += f.UncompressedSize64
			if declared > uint64(lim.code) {
				return nil, tooLarge("more than %d bytes of code unzipped", lim.code)
			}
			e.open = f.Open
		default:
			return nil, bundleError(name, "%s is a %v, not a file, directory or link", name, mode.Type())
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readLink reads the target of the link in f, refusing one over maxLink.
func readLink(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", bundleError(f.Name, "reading link %s: %v", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLink+1))
	if err != nil {
		return "", bundleError(f.Name, "reading link %s: %v", f.Name, err)
	}
	if len(b) > maxLink || len(b) == 0 {
		return "", bundleError(f.Name, "link %s: a target of %d bytes (1 to %d)", f.Name, len(b), maxLink)
	}
	return string(b), nil
}
