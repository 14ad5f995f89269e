package lambda

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// privateCopy copies bundle into a root-only (0700) directory outside /tmp,
// as fn/worker keeps versions' code, and returns the copy's path.
func privateCopy(t *testing.T, bundle string) string {
	t.Helper()
	parent, err := os.MkdirTemp(filepath.Dir(testDir), "stoa-shared-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	dst := filepath.Join(parent, "code")
	if err := copyTree(bundle, dst, -1, -1, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestSharedBundle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a shared bundle is root's; run as root (CI does)")
	}
	ok := privateCopy(t, probeBundle)
	if got, err := sharedBundle(ok); err != nil || got != ok {
		t.Errorf("sharedBundle(%s) = %q, %v; want it shared", ok, got, err)
	}
	// Not shared: a file others cannot read, a path others can enter
	// (/var/tmp's children are reachable by anyone), a world-writable file.
	unreadable := privateCopy(t, probeBundle)
	if err := os.WriteFile(filepath.Join(unreadable, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := privateCopy(t, probeBundle)
	if err := os.Chmod(filepath.Dir(open), 0o711); err != nil {
		t.Fatal(err)
	}
	writable := privateCopy(t, probeBundle)
	if err := os.Chmod(filepath.Join(writable, "bootstrap"), 0o777); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{unreadable, open, writable} {
		if got, err := sharedBundle(b); err == nil {
			t.Errorf("sharedBundle(%s) = %q; want it copied", b, got)
		}
	}
}

// TestSharedBundleIsolation runs a function from a shared bundle beside
// another function: it runs from its bundle, uncopied, and the other cannot
// read that bundle through the host path or the first one's /proc.
func TestSharedBundleIsolation(t *testing.T) {
	needRoot(t, "isolation")
	bundle := privateCopy(t, probeBundle)
	a := start(t, Config{Bundle: bundle})
	b := start(t, Config{Bundle: probeBundle})
	if _, err := os.Stat(filepath.Join(a.dir, "task")); !os.IsNotExist(err) {
		t.Errorf("a's bundle was copied (%v); want it bound where it is", err)
	}
	if m, _ := call(t, a, `{"op":"read","path":"/var/task/hello.txt"}`); m["data"] != "hello" {
		t.Fatalf("a reads its own code: %v", m)
	}
	for _, p := range []string{filepath.Join(bundle, "hello.txt"), "/proc/" + strconv.Itoa(a.proc.pid) + "/root/var/task/hello.txt"} {
		if m, _ := call(t, b, mustJSON(map[string]string{"op": "read", "path": p})); m["err"] == nil {
			t.Errorf("b read a's code at %s", p)
		}
	}
	if m, _ := call(t, a, `{"op":"write","path":"/var/task/x","data":"x"}`); m["err"] == nil {
		t.Errorf("a wrote into its shared code: %v", m)
	}
}
