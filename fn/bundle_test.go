package fn

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// normalise reads b as the registry reads a bundle and returns the stored zip.
func normalise(t testing.TB, b Bundle, lim limits) ([]byte, string) {
	t.Helper()
	entries, done, err := b.list(lim)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	tr, err := newTree(entries, lim)
	if err != nil {
		t.Fatal(err)
	}
	z, err := tr.zip(t.Context(), lim)
	if err != nil {
		t.Fatal(err)
	}
	defer z.close()
	out, err := io.ReadAll(z.reader())
	if err != nil {
		t.Fatal(err)
	}
	return out, z.sha
}

// TestNormalise: the same files give the same stored zip, whether they
// come as a directory or as a zip with another order, other times, other
// modes, explicit or implied directories and "./" prefixes.
func TestNormalise(t *testing.T) {
	dir := writeDir(t,
		bootstrap("x"),
		txt("lib/a.txt", "a"),
		exe("lib/tool", "tool"),
		link("lib/current", "a.txt"),
		link("bin", "lib"),
		dirEntry("empty"),
		txt("z.txt", "z"),
	)
	fromDir, shaDir := normalise(t, DirBundle(dir), defaultLimits)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string, mode fs.FileMode) {
		fh := &zip.FileHeader{Name: name, Method: zip.Store}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	add("z.txt", "z", 0o600)
	add("./lib/tool", "tool", 0o700)
	add("lib/", "", fs.ModeDir|0o700)
	add("lib//a.txt", "a", 0o444)
	add("empty/", "", fs.ModeDir|0o755)
	add("bin", "lib", fs.ModeSymlink|0o755)
	add("lib/current", "a.txt", fs.ModeSymlink|0o777)
	add("./", "", fs.ModeDir|0o755)
	add("bootstrap", "#!/bin/sh\necho x\n", 0o711)
	zw.Close()
	fromZip, shaZip := normalise(t, ZipBytes(buf.Bytes()), defaultLimits)
	if shaDir != shaZip || !bytes.Equal(fromDir, fromZip) {
		t.Errorf("the same files as a directory and as a zip stored as %s and %s, want equal", shaDir, shaZip)
	}

	again, shaAgain := normalise(t, ZipBytes(fromDir), defaultLimits)
	if shaAgain != shaDir || !bytes.Equal(again, fromDir) {
		t.Errorf("normalising a stored zip changed it: %s, was %s", shaAgain, shaDir)
	}

	zr, err := zip.NewReader(bytes.NewReader(fromDir), int64(len(fromDir)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range zr.File {
		if !f.Modified.Equal(zipTime) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, zipTime)
		}
		got = append(got, f.Name+" "+f.Mode().String())
	}
	want := []string{
		"bin Lrwxrwxrwx", "bootstrap -rwxr-xr-x", "empty/ drwxr-xr-x", "lib/ drwxr-xr-x",
		"lib/a.txt -rw-r--r--", "lib/current Lrwxrwxrwx", "lib/tool -rwxr-xr-x", "z.txt -rw-r--r--",
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored zip entries:\n got %q\nwant %q", got, want)
	}

	out := filepath.Join(t.TempDir(), "out")
	entries, err := listZip(bytes.NewReader(fromDir), int64(len(fromDir)), defaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTree(entries, defaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.extractTo(t.Context(), out, defaultLimits); err != nil {
		t.Fatal(err)
	}
	wantTree := []string{"bin -> lib", "bootstrap*", "empty/", "lib/", "lib/a.txt", "lib/current -> a.txt", "lib/tool*", "z.txt"}
	if got := listTree(t, out); !slices.Equal(got, wantTree) {
		t.Errorf("unpacked:\n got %q\nwant %q", got, wantTree)
	}
	if b, err := os.ReadFile(filepath.Join(out, "bin", "current")); err != nil || string(b) != "a" {
		t.Errorf("reading through the links: %q, %v", b, err)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// readZip lists, checks and normalises the zip b read through c.
func readZip(t *testing.T, c *countingReaderAt, size int64, lim limits) error {
	entries, err := listZip(c, size, lim)
	if err != nil {
		return err
	}
	tr, err := newTree(entries, lim)
	if err != nil {
		return err
	}
	z, err := tr.zip(t.Context(), lim)
	z.close()
	return err
}

// TestZipBombs: a zip that unpacks past MaxCodeBytes is refused having
// read a small part of it, whether its headers tell the truth or lie.
func TestZipBombs(t *testing.T) {
	for _, tc := range []struct {
		what     string
		mib      int    // zeros it really holds
		declared uint64 // what its header says
		want     *Error
	}{
		{"honest header", 300, 300 << 20, ErrBundleTooLarge},
		{"header saying 1 KiB", 1024, 1 << 10, ErrInvalidBundle},
	} {
		b := bomb(t, tc.mib, tc.declared)
		c := &countingReaderAt{r: bytes.NewReader(b)}
		err := readZip(t, c, int64(len(b)), defaultLimits)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
		if read := c.n.Load(); read > int64(len(b))/4 {
			t.Errorf("%s: read %d bytes of a %d-byte zip before refusing it, want under a quarter", tc.what, read, len(b))
		}
	}
}

// endless is a file entry whose content never ends.
func endless(name string, read *atomic.Int64) *entry {
	return &entry{name: name, kind: kindFile, open: func() (io.ReadCloser, error) {
		return io.NopCloser(readerFunc(func(p []byte) (int, error) {
			clear(p)
			read.Add(int64(len(p)))
			return len(p), nil
		})), nil
	}}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestBudget: the unzipped cap holds on the bytes read, whatever the
// source declared, when storing and when unpacking.
func TestBudget(t *testing.T) {
	lim := limits{zip: MaxZipBytes, code: 1 << 20, entries: 10}
	var read atomic.Int64
	tr, err := newTree([]*entry{endless("a", &read)}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.zip(t.Context(), lim); !errors.Is(err, ErrBundleTooLarge) {
		t.Errorf("zip of an endless file = %v, want %v", err, ErrBundleTooLarge)
	}
	if got := read.Load(); got > lim.code+64<<10 {
		t.Errorf("read %d bytes of an endless file, want about %d", got, lim.code)
	}
	read.Store(0)
	parent := t.TempDir()
	if err := tr.extractTo(t.Context(), filepath.Join(parent, "out"), lim); !errors.Is(err, ErrBundleTooLarge) {
		t.Errorf("extract of an endless file = %v, want %v", err, ErrBundleTooLarge)
	}
	if got := read.Load(); got > lim.code+64<<10 {
		t.Errorf("read %d bytes of an endless file, want about %d", got, lim.code)
	}
	if des, _ := os.ReadDir(parent); len(des) != 0 {
		t.Errorf("a failed extract left %v", des)
	}

	// Too many entries.
	var files []file
	for i := range 11 {
		files = append(files, txt(strings.Repeat("f", i+1), ""))
	}
	if _, err := listZip(bytes.NewReader(makeZip(t, files...)), int64(len(makeZip(t, files...))), lim); !errors.Is(err, ErrBundleTooLarge) {
		t.Errorf("a zip of 11 entries with a cap of 10 = %v, want %v", err, ErrBundleTooLarge)
	}
	// A zip within the zip cap is not refused for what normalising adds
	// (here: five directory entries).
	lim = limits{zip: 200, code: 1 << 20, entries: 100}
	small := makeZip(t, txt("a/b/c/d/e/f", "x"))
	if len(small) > 200 {
		t.Fatalf("test zip of %d bytes, want at most 200", len(small))
	}
	entries, err := listZip(bytes.NewReader(small), int64(len(small)), lim)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = newTree(entries, lim); err != nil {
		t.Fatal(err)
	}
	z, err := tr.zip(t.Context(), lim)
	if err != nil {
		t.Fatalf("normalising a %d-byte zip under a 200-byte cap: %v", len(small), err)
	}
	if z.size <= 200 {
		t.Errorf("the normalised zip is %d bytes; the test wants it over the 200-byte cap", z.size)
	}
	z.close()

	// The stored zip has a cap too: the code's plus the zip's.
	lim = limits{zip: 10, code: 100, entries: 100}
	var empties []*entry
	for i := range 20 {
		empties = append(empties, &entry{name: strings.Repeat("e", i+1), kind: kindFile, open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("")), nil
		}})
	}
	tr, err = newTree(empties, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.zip(t.Context(), lim); !errors.Is(err, ErrBundleTooLarge) || !strings.Contains(err.Error(), "the zip is over 110 bytes") {
		t.Errorf("a stored zip over its cap = %v, want %v", err, ErrBundleTooLarge)
	}
}

// TestLinkWork: links that expand into one another cost bounded work.
func TestLinkWork(t *testing.T) {
	long := strings.TrimSuffix(strings.Repeat("x/../", 800), "/") // 4 KB of going nowhere
	var entries []*entry
	for i := range 1000 {
		entries = append(entries, &entry{name: "l" + strings.Repeat("a", i%200) + string(rune('0'+i/200)), kind: kindLink, target: long})
	}
	_, err := newTree(entries, defaultLimits)
	if !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), "too many links") {
		t.Errorf("1000 links of 4 KB targets = %v, want %v (too many links to follow)", err, ErrInvalidBundle)
	}
	// A chain of links, each through the next, stops at 40.
	entries = nil
	for i := range 50 {
		entries = append(entries, &entry{name: "c" + strings.Repeat("c", i), kind: kindLink, target: "c" + strings.Repeat("c", i+1)})
	}
	if _, err := newTree(entries, defaultLimits); !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), "levels of links") {
		t.Errorf("a chain of 50 links = %v, want %v (too many levels)", err, ErrInvalidBundle)
	}
}
