package fn

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = limits{zip: 1 << 20, code: 4 << 20, entries: 1000}

// FuzzZip feeds arbitrary bytes to the zip reader: it refuses with an
// *Error or accepts, never panics, never writes outside the directory it
// unpacks into, leaves no link pointing outside it, and storing what it
// accepted is stable (the stored zip read again gives the same zip).
func FuzzZip(f *testing.F) {
	seeds := [][]file{
		{bootstrap("x"), txt("lib/a.txt", "a"), link("lib/b", "a.txt"), dirEntry("empty/")},
		{txt("../evil", "x")},
		{txt("/abs", "x")},
		{txt(`a\..\..\evil`, "x")},
		{link("l", "../outside")},
		{link("l", "/etc")},
		{link("q", "."), link("a/p", "../q/../x")},
		{link("a", "b"), link("b", "a")},
		{link("l", "sub"), dirEntry("sub/"), txt("l/x", "x")},
		{txt("a", "x"), txt("a/b", "y")},
		{txt("a", "x"), txt("./a", "y")},
		{link("node_modules/.bin/x", "../x/cli.js"), txt("node_modules/x/cli.js", "")},
	}
	for _, s := range seeds {
		b, err := zipOf(s...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(bomb(f, 8, 1<<10))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		stored, err := storeAndUnpack(t, data, dir)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("refused with %T %v, want an *Error", err, err)
			}
		}
		checkInside(t, parent, dir)
		if stored == nil {
			return
		}
		again, err := storeAndUnpack(t, stored, filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatalf("the stored zip of an accepted input is refused: %v", err)
		}
		if !bytes.Equal(again, stored) {
			t.Fatalf("storing the stored zip again changed it")
		}
	})
}

// storeAndUnpack reads data as the registry reads a zip bundle, stores it
// (returning the stored zip) and unpacks what it accepted into dir.
func storeAndUnpack(t *testing.T, data []byte, dir string) ([]byte, error) {
	entries, err := listZip(bytes.NewReader(data), int64(len(data)), fuzzLimits)
	if err != nil {
		return nil, err
	}
	tr, err := newTree(entries, fuzzLimits)
	if err != nil {
		return nil, err
	}
	// Unpack before storing, so that input the store would refuse (a
	// CRC error in an entry) is unpacked as far as it goes.
	if err := tr.extractTo(t.Context(), dir, fuzzLimits); err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &Error{Code: CodeInvalidBundle, Err: err} // an OS error: a name the file system refuses
	}
	z, err := tr.zip(t.Context(), fuzzLimits)
	if err != nil {
		return nil, err
	}
	defer z.close()
	return io.ReadAll(z.reader())
}

// checkInside fails if parent holds anything but dir, or dir holds a link
// that resolves outside it.
func checkInside(t *testing.T, parent, dir string) {
	des, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() != filepath.Base(dir) {
			t.Fatalf("wrote %s outside the directory", de.Name())
		}
	}
	root, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil { // dangling: at least its own target must stay inside
			target, _ := os.Readlink(p)
			real = filepath.Join(filepath.Dir(p), target)
			root = dir
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			t.Fatalf("link %s resolves to %s, outside %s", p, real, root)
		}
		return nil
	})
}
