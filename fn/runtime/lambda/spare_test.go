package lambda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leftovers lists what sandboxes leave behind in dir and under our
// cgroups: /tmp images (not the per-size template) and cgroup directories.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp.ext4") {
			out = append(out, e.Name())
		}
	}
	h := probeHost()
	for _, d := range []string{h.memV1, h.pidsV1, h.v2} {
		if d == "" {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), "stoa-") {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}

// sandboxDir is a Dir of the test's own, so that no other test's
// environments share its spare.
func sandboxDir(t *testing.T) string {
	t.Helper()
	if !probeHost().sandboxed() {
		t.Skip("no sandboxes on this host (needs root, a mount namespace, loop devices and mkfs.ext4); CI runs as root")
	}
	dir, err := os.MkdirTemp(filepath.Dir(testDir), "stoa-spare-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestCloseCleansSpares closes the only environment of a (Dir, TmpMB):
// once Close returns, the spare made after its start is gone too, with
// its image, cgroups and thread, and nothing is being made.
func TestCloseCleansSpares(t *testing.T) {
	dir := sandboxDir(t)
	before := leftovers(t, dir)
	e, err := Start(t.Context(), Config{Bundle: echoBundle, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{}); err != nil {
		t.Fatal(err)
	}
	key := spareKey{dir, DefaultTmpMB}
	waitSpare(dir, DefaultTmpMB) // the refill after the start has run
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	spares.Lock()
	st, filling, users := spares.m[key], spares.filling[key], spares.users[key]
	spares.Unlock()
	if st != nil || filling || users != 0 {
		t.Errorf("after Close: spare %v, filling %v, users %d; want none", st != nil, filling, users)
	}
	if got := leftovers(t, dir); len(got) != len(before) {
		t.Errorf("after Close: %v left (before the start: %v)", got, before)
	}
}

// TestHoldSpare holds a spare with no environment open: it is made, a
// start takes it and another is made, and release tears that one down.
func TestHoldSpare(t *testing.T) {
	dir := sandboxDir(t)
	before := leftovers(t, dir)
	release := HoldSpare(dir, 0)
	key := spareKey{dir, DefaultTmpMB}
	waitSpare(dir, DefaultTmpMB)
	spares.Lock()
	held := spares.m[key]
	spares.Unlock()
	if held == nil {
		t.Fatal("HoldSpare made no spare")
	}
	e, err := Start(t.Context(), Config{Bundle: echoBundle, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	spares.Lock()
	taken := spares.m[key] != held
	spares.Unlock()
	if !taken {
		t.Error("Start did not take the held spare")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	waitSpare(dir, DefaultTmpMB) // still held: refilled
	if got := leftovers(t, dir); len(got) <= len(before) {
		t.Errorf("with a hold: %v, want a spare's image and cgroups", got)
	}
	release()
	if got := leftovers(t, dir); len(got) != len(before) {
		t.Errorf("after release: %v left (before the hold: %v)", got, before)
	}
}
