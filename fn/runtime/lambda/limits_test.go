package lambda

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHostLimitsReport(t *testing.T) {
	ls := HostLimits()
	names := map[string]bool{}
	for _, l := range ls {
		names[l.Name] = true
		if l.How == "" {
			t.Errorf("%s: no mechanism or reason given", l.Name)
		}
		t.Log(l)
	}
	for _, n := range []string{"timeout", "payload", "memory", "processes", "file descriptors", "tmp", "isolation"} {
		if !names[n] {
			t.Errorf("HostLimits() lacks %q", n)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	needRoot(t, "memory")
	logs := newLogSink()
	e := start(t, Config{Bundle: probeBundle, MemoryMB: 64, Log: logs})
	if m, _ := call(t, e, `{"op":"mem","n":16}`); m["allocatedMB"] != 16.0 {
		t.Fatalf("16 MB under a 64 MB limit: %v", m)
	}
	res, err := e.Invoke(t.Context(), []byte(`{"op":"mem","n":200}`), InvokeOpts{RequestID: "oom"})
	if !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("200 MB under a 64 MB limit: %v, want ErrOutOfMemory", err)
	}
	t.Logf("200 MB under 64 MB: %v (max memory used %d MB)", err, e.MaxMemoryMB())
	if !strings.Contains(err.Error(), "out of memory") || res.ErrorType != "Runtime.OutOfMemory" {
		t.Errorf("error %q, type %q", err, res.ErrorType)
	}
	if e.MaxMemoryMB() < 60 || e.MaxMemoryMB() > 64 {
		t.Errorf("Max Memory Used %d MB, want the 64 MB limit reached", e.MaxMemoryMB())
	}
	if e.Err() == nil {
		t.Error("environment kept after running out of memory")
	}
	if lines := logs.waitFor(t, "REPORT RequestId: oom"); !strings.Contains(strings.Join(lines, ""), "Max Memory Used: 64 MB\t") {
		t.Errorf("REPORT lines %q; want Max Memory Used: 64 MB", lines)
	}
}

func TestFileDescriptorLimit(t *testing.T) {
	e := start(t, Config{Bundle: probeBundle})
	m, _ := call(t, e, `{"op":"fds","n":2000}`)
	opened, _ := m["opened"].(float64)
	t.Logf("opening 2000 files: %v", m)
	if opened >= MaxFiles || opened < MaxFiles-32 || !strings.Contains(m["err"].(string), "too many open files") {
		t.Errorf("opening 2000 files: %v; want a stop just under %d with EMFILE", m, MaxFiles)
	}
	if m, _ := call(t, e, `{"op":"fds","n":500}`); m["opened"] != 500.0 {
		t.Errorf("500 files after: %v", m)
	}
}

func TestProcessLimit(t *testing.T) {
	needRoot(t, "processes")
	// Starting a thousand processes takes seconds on a busy machine.
	e := start(t, Config{Bundle: probeBundle, MemoryMB: 1024, Timeout: time.Minute})
	m, _ := call(t, e, `{"op":"procs","n":1100}`)
	started, _ := m["started"].(float64)
	t.Logf("starting 1100 processes: %v", m)
	if started >= MaxProcs || started < MaxProcs-64 || m["err"] == nil {
		t.Errorf("starting 1100 processes: %v; want a stop just under %d", m, MaxProcs)
	}
	// Threads count too: 200 are fine, but at 1,100 the Go runtime cannot
	// create its thread and dies.
	th := start(t, Config{Bundle: probeBundle, MemoryMB: 1024, Timeout: time.Minute})
	if m, _ := call(t, th, `{"op":"threads","n":200}`); m["threads"] != 200.0 {
		t.Errorf("200 threads: %v", m)
	}
	_, err := th.Invoke(t.Context(), []byte(`{"op":"threads","n":1100}`), InvokeOpts{})
	if !errors.Is(err, ErrExited) {
		t.Errorf("1100 threads: %v; want the runtime to die at the limit", err)
	}
	t.Logf("1100 threads: %v", err)
}

func TestTmpIsPrivateAndCapped(t *testing.T) {
	needRoot(t, "tmp")
	e := start(t, Config{Bundle: probeBundle, TmpMB: 32, MemoryMB: 128, Timeout: 30 * time.Second})
	m, _ := call(t, e, `{"op":"fill","n":64}`)
	written, _ := m["written"].(float64)
	t.Logf("writing 64 MB into a 32 MB /tmp: %v", m)
	if written >= 32 || written < 16 || !strings.Contains(m["err"].(string), "no space left") {
		t.Errorf("writing 64 MB into a 32 MB /tmp: %v; want ENOSPC near 32 MB", m)
	}
	if _, err := os.Stat("/tmp/fill"); err == nil {
		t.Error("the function's /tmp/fill is on the host's /tmp")
	}

	// A /tmp bigger than memory: its pages are not charged as the function's memory.
	big := start(t, Config{Bundle: probeBundle, TmpMB: 256, MemoryMB: 64, Timeout: 30 * time.Second})
	if m, _ := call(t, big, `{"op":"fill","n":160}`); m["written"] != 160.0 || m["err"] != nil {
		t.Errorf("160 MB into a 256 MB /tmp with 64 MB of memory: %v", m)
	}
	if big.Err() != nil {
		t.Errorf("environment died filling /tmp: %v", big.Err())
	}
}

// TestIsolation runs two functions side by side: neither can read the
// other's code, /tmp, environment or Runtime API.
func TestIsolation(t *testing.T) {
	needRoot(t, "isolation")
	a := start(t, Config{Bundle: probeBundle, Env: map[string]string{"SECRET": "a-secret"}})
	b := start(t, Config{Bundle: probeBundle})
	if m, _ := call(t, a, `{"op":"write","path":"/tmp/secret","data":"a-tmp-secret"}`); m["err"] != nil {
		t.Fatalf("a writes its /tmp: %v", m)
	}
	st, err := os.Stat(a.dir)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); st.Mode().Perm() != 0o700 || int(sys.Uid) != a.uid || a.uid == b.uid || a.uid == 0 {
		t.Errorf("a's code dir %s: mode %v owner %d; want 0700 owned by a's own uid %d (b's is %d)", a.dir, st.Mode().Perm(), sys.Uid, a.uid, b.uid)
	}
	aAPI := a.ln.Addr().String()
	pidA := strconv.Itoa(a.proc.pid)
	for _, c := range []struct{ what, path string }{
		{"a's /tmp through /proc", "/proc/" + pidA + "/root/tmp/secret"},
		{"a's code on the host", filepath.Join(a.dir, "task", "bootstrap")},
		{"a's code through /proc", "/proc/" + pidA + "/root/var/task/bootstrap"},
		{"a's environment", "/proc/" + pidA + "/environ"},
		{"a's /tmp image", a.image},
	} {
		m, _ := call(t, b, mustJSON(map[string]string{"op": "read", "path": c.path}))
		if m["err"] == nil {
			t.Errorf("b read %s (%s): %.60v", c.what, c.path, m["data"])
		}
	}
	if m, _ := call(t, b, `{"op":"read","path":"/tmp/secret"}`); m["err"] == nil {
		t.Errorf("b's /tmp holds a's file: %v", m)
	}
	// b cannot take a's invocations: a's endpoint drops other uids.
	m, _ := call(t, b, mustJSON(map[string]string{"op": "http", "path": "http://" + aAPI + "/2018-06-01/runtime/invocation/next"}))
	if m["err"] == nil {
		t.Errorf("b reached a's Runtime API: %v", m)
	}
	// a still works, and reads its own code and /tmp.
	if m, _ := call(t, a, `{"op":"read","path":"/tmp/secret"}`); m["data"] != "a-tmp-secret" {
		t.Errorf("a reads its /tmp: %v", m)
	}
	if m, _ := call(t, a, `{"op":"write","path":"/var/task/x","data":"x"}`); m["err"] == nil {
		t.Errorf("a wrote into its code directory: %v", m)
	}
}

// TestWithoutRoot runs functions as a host without root would: no uid of
// their own, no cgroups, no namespaces. They still run, time out and meet
// the payload and file descriptor caps, and HostLimits says what is missing.
func TestWithoutRoot(t *testing.T) {
	h := &host{why: map[string]string{"root": "not running as root"}, selfUID: os.Getuid(), selfGID: os.Getgid()}
	for _, l := range hostLimits(h) {
		want := l.Name == "timeout" || l.Name == "payload" || l.Name == "file descriptors"
		if l.Enforced != want || (!l.Enforced && !strings.Contains(l.How, "not running as root")) {
			t.Errorf("without root: %v", l)
		}
	}
	e, err := startOn(t.Context(), Config{Bundle: probeBundle, Dir: testDir, Timeout: time.Second}, h)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	m, _ := call(t, e, `{"op":"env"}`)
	if m["uid"] != float64(os.Getuid()) || m["nofile"] != float64(MaxFiles) {
		t.Errorf("uid %v nofile %v; want ours and %d", m["uid"], m["nofile"], MaxFiles)
	}
	if _, err := e.Invoke(t.Context(), []byte(`{"op":"sleep","n":3000}`), InvokeOpts{}); !errors.Is(err, ErrTimeout) {
		t.Errorf("timeout without root: %v", err)
	}
}

// TestKillReachesEveryProcess: a timed-out function's children die with it,
// even those it started and left behind.
func TestKillReachesEveryProcess(t *testing.T) {
	needRoot(t, "processes")
	e := start(t, Config{Bundle: probeBundle, Timeout: time.Second})
	if m, _ := call(t, e, `{"op":"procs","n":5}`); m["started"] != 5.0 {
		t.Fatalf("procs: %v", m)
	}
	if n := len(procsOfUID(e.uid)); n < 6 {
		t.Fatalf("%d processes of uid %d, want the runtime and 5 children", n, e.uid)
	}
	if _, err := e.Invoke(t.Context(), []byte(`{"op":"sleep","n":5000}`), InvokeOpts{}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Invoke: %v, want a timeout", err)
	}
	if left := procsOfUID(e.uid); len(left) > 0 {
		t.Errorf("processes of uid %d alive after the timeout: %v", e.uid, left)
	}
}

// procsOfUID lists live (not zombie) processes whose real uid is uid.
func procsOfUID(uid int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			continue
		}
		var state, uidLine string
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "State:"); ok {
				state = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				uidLine = v
			}
		}
		if f := strings.Fields(uidLine); len(f) > 0 && f[0] == strconv.Itoa(uid) && !strings.HasPrefix(state, "Z") {
			out = append(out, d.Name()+" "+state)
		}
	}
	return out
}
