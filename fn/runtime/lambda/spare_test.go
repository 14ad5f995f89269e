package lambda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageFiles lists the /tmp images in dir (not the per-size template).
func imageFiles(t *testing.T, dir string) []string {
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
	return out
}

// spareOf returns key's spare now, or nil.
func spareOf(key spareKey) *sandboxThread {
	spares.Lock()
	defer spares.Unlock()
	return spares.m[key]
}

// cgroupDirs lists the cgroup directories of a sandbox that exist.
func cgroupDirs(st *sandboxThread) []string {
	var out []string
	for _, d := range []string{st.cg.memV1, st.cg.pidsV1, st.cg.v2} {
		if _, err := os.Stat(d); d != "" && err == nil {
			out = append(out, d)
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
	e, err := Start(t.Context(), Config{Bundle: echoBundle, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Invoke(t.Context(), []byte(`{}`), InvokeOpts{}); err != nil {
		t.Fatal(err)
	}
	key := spareKey{dir, DefaultTmpMB}
	waitSpare(dir, DefaultTmpMB) // the refill after the start has run
	spare := spareOf(key)
	if spare == nil || len(imageFiles(t, dir)) == 0 || len(cgroupDirs(spare)) == 0 {
		t.Fatalf("no spare to clean up after the start: %v, images %v", spare, imageFiles(t, dir))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	spares.Lock()
	st, filling, users := spares.m[key], spares.filling[key], spares.users[key]
	spares.Unlock()
	if st != nil || filling || users != 0 {
		t.Errorf("after Close: spare %v, filling %v, users %d; want none", st != nil, filling, users)
	}
	if got := append(imageFiles(t, dir), cgroupDirs(spare)...); len(got) != 0 {
		t.Errorf("after Close: %v left", got)
	}
}

// TestHoldSpare holds a spare with no environment open: it is made, a
// start takes it and another is made, and release tears that one down.
func TestHoldSpare(t *testing.T) {
	dir := sandboxDir(t)
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
	spare := spareOf(key)
	if spare == nil || len(imageFiles(t, dir)) != 1 || len(cgroupDirs(spare)) == 0 {
		t.Fatalf("with a hold: spare %v, images %v; want one spare", spare, imageFiles(t, dir))
	}
	release()
	if got := append(imageFiles(t, dir), cgroupDirs(spare)...); len(got) != 0 {
		t.Errorf("after release: %v left", got)
	}
}

// TestStartWaitsForFill starts an environment while its spare is still
// being made: the start takes that spare rather than making a second
// sandbox, so one image exists, the environment's.
func TestStartWaitsForFill(t *testing.T) {
	dir := sandboxDir(t)
	release := HoldSpare(dir, 0) // starts making the spare in the background
	defer release()
	e, err := Start(t.Context(), Config{Bundle: echoBundle, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	spares.Lock()
	for spares.filling[spareKey{dir, DefaultTmpMB}] {
		spares.changed.Wait()
	}
	spare := spares.m[spareKey{dir, DefaultTmpMB}]
	spares.Unlock()
	if got := imageFiles(t, dir); len(got) != 1 || spare != nil {
		t.Errorf("after a start during the fill: images %v, spare left %v; want the start to have taken the one being made", got, spare != nil)
	}
}
