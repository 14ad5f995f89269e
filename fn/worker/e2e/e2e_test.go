package e2e

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoaproject/stoa/fn"
	"github.com/stoaproject/stoa/fn/runtime/lambda"
	"github.com/stoaproject/stoa/mesh"
)

// upLine returns the line of stoa up's banner that starts with prefix.
func upLine(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// startUp runs stoa up in dir on free ports and returns it with its banner.
func startUp(t *testing.T, dir string, extra ...string) (*daemon, []string) {
	t.Helper()
	args := append([]string{"up", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--gateway", "127.0.0.1:0"}, extra...)
	return startDaemon(t, dir, "stoa up: ready", args...)
}

// TestDeployInvoke deploys a Go (provided) and a Node function with the
// CLI and drives every fn command once.
func TestDeployInvoke(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	_, banner := startUp(t, dir)
	url := natsURL(t, dir)
	for _, want := range []string{"stoa up: NATS " + url + ", JetStream in " + filepath.Join(dir, ".stoa"), "stoa up: health on http://",
		"stoa up: function worker serving fn:*"} {
		if upLine(banner, want) == "" {
			t.Errorf("stoa up printed %q, want a line starting %q", banner, want)
		}
	}
	// Which of Lambda's limits the host enforces, either way (the limit
	// tests of fn/runtime/lambda check each).
	if upLine(banner, "stoa up: every Lambda limit is enforced here: ") == "" && upLine(banner, "stoa up: Lambda limits NOT enforced on this host: ") == "" {
		t.Errorf("stoa up printed %q, want a line on Lambda's limits", banner)
	}
	st, err := os.Stat(filepath.Join(dir, ".stoa", "nats.url"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf(".stoa/nats.url: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	health := strings.TrimSuffix(strings.TrimPrefix(upLine(banner, "stoa up: health on "), "stoa up: health on "), "/readyz")
	for _, path := range []string{"/healthz", "/readyz", "/livez"} {
		resp, err := http.Get(health + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}

	// create prints claudia-like JSON naming the function and version.
	out := mustStoa(t, dir, "fn", "create", "--name", "echo", "--runtime", "provided", "--timeout", "1s", bundleOne)
	var d struct {
		Lambda struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
			Runtime string `json:"runtime"`
			SHA     string `json:"codeSha256"`
		} `json:"lambda"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Lambda.Name != "echo" || d.Lambda.Version != 1 || d.Lambda.Runtime != "provided" || len(d.Lambda.SHA) != 64 {
		t.Errorf("stoa fn create printed %s (%v); want {lambda: {name: echo, version: 1, runtime: provided, codeSha256}}", out, err)
	}
	mustStoa(t, dir, "fn", "create", "--name", "hello-node", "--runtime", "node", "--handler", "app.handler", nodeBundle)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fn", "invoke", "echo", "--payload", `{"a":1}`}, `{"event":{"a":1},"tag":"one"}`},
		{[]string{"fn", "invoke", "echo"}, `{"event":{},"tag":"one"}`},
		{[]string{"fn", "invoke", "hello-node", "--payload", `{"name":"Ada"}`}, `{"tag":"node","event":{"name":"Ada"}}`},
	} {
		if got := strings.TrimSpace(mustStoa(t, dir, c.args...)); got != c.want {
			t.Errorf("stoa %s: %s, want %s", strings.Join(c.args, " "), got, c.want)
		}
	}
	r := stoaCmd(t, dir, "fn", "invoke", "echo", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"version":1`) || !strings.Contains(r.stdout, `"requestId":"`) {
		t.Errorf("stoa fn invoke --json: exit %d, %s", r.code, r.stdout)
	}

	// A timeout reaches the caller as Lambda words it; the next invocation works.
	r = stoaCmd(t, dir, "fn", "invoke", "echo", "--payload", `{"sleep":3000}`)
	if r.code != 1 || !strings.Contains(r.stderr, "fn_timeout") || !strings.Contains(r.stderr, "Task timed out after 1.00 seconds") {
		t.Errorf("invoke past the timeout: exit %d, stderr %q; want 1 and fn_timeout: …Task timed out after 1.00 seconds", r.code, r.stderr)
	}
	if got := mustStoa(t, dir, "fn", "invoke", "echo"); !strings.Contains(got, `"tag":"one"`) {
		t.Errorf("invoke after a timeout: %s", got)
	}
	r = stoaCmd(t, dir, "fn", "invoke", "echo", "--payload", `{"fail":"no cheese"}`)
	if r.code != 1 || !strings.Contains(r.stderr, "fn_error: echo:1: errorString: no cheese") || !strings.Contains(r.stdout, `"errorMessage":"no cheese"`) {
		t.Errorf("a function error: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// Lambda's payload cap: 6 MiB + 100 bytes pass (NATS carries up to
	// 8 MB under stoa up); one byte more is refused whole.
	for _, c := range []struct {
		size int
		code int
		err  string
	}{
		{lambda.MaxPayload - 100, 0, ""},
		{lambda.MaxPayload - 10, 1, "fn_response_too_large"}, // the echo answers the event and 26 bytes more
		{lambda.MaxPayload + 1, 1, "fn_request_too_large"},
	} {
		ev := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(ev, []byte(`"`+strings.Repeat("x", c.size-2)+`"`), 0o644); err != nil {
			t.Fatal(err)
		}
		r := stoaCmd(t, dir, "fn", "invoke", "echo", "--payload", "@"+ev)
		if r.code != c.code || !strings.Contains(r.stderr, c.err) {
			t.Errorf("a payload of %d bytes: exit %d, stderr %q; want %d and %q", c.size, r.code, r.stderr, c.code, c.err)
		}
	}

	mustStoa(t, dir, "fn", "update", "--name", "echo", bundleTwo)
	if got := mustStoa(t, dir, "fn", "alias", "echo", "prod", "1"); !strings.Contains(got, `"version": 1`) {
		t.Errorf("stoa fn alias: %s", got)
	}
	for q, want := range map[string]string{"prod": "one", "1": "one", "2": "two", "latest": "two"} {
		if got := mustStoa(t, dir, "fn", "invoke", "echo", "--qualifier", q); !strings.Contains(got, `"tag":"`+want+`"`) {
			t.Errorf("invoke --qualifier %s: %s, want tag %s", q, got, want)
		}
	}
	list := mustStoa(t, dir, "fn", "list")
	if !strings.Contains(list, "echo") || !strings.Contains(list, "prod=1") || !strings.Contains(list, "hello-node") {
		t.Errorf("stoa fn list:\n%s", list)
	}
	vs := mustStoa(t, dir, "fn", "versions", "echo")
	if !strings.Contains(vs, "1        prod") || !strings.Contains(vs, "2        latest") {
		t.Errorf("stoa fn versions echo:\n%s", vs)
	}

	logs := mustStoa(t, dir, "fn", "logs", "hello-node")
	for _, want := range []string{"START RequestId: ", `node got {"name":"Ada"}`, "END RequestId: ", "REPORT RequestId: ", "Init Duration: "} {
		if !strings.Contains(logs, want) {
			t.Errorf("stoa fn logs hello-node lacks %q:\n%s", want, logs)
		}
	}
	// --follow prints what comes: start it, invoke, wait for the line.
	follow, _ := startDaemon(t, dir, "START RequestId:", "fn", "logs", "hello-node", "--follow", "--since", "1h") // the history first: it is following once a line is out
	invoked := make(chan result, 1)
	go func() {
		cmd := exec.Command(stoaBin, "fn", "invoke", "hello-node", "--payload", `{"follow":true}`)
		cmd.Dir, cmd.Env = dir, env()
		out, err := cmd.CombinedOutput()
		invoked <- result{stdout: string(out), code: map[bool]int{true: 1}[err != nil]}
	}()
	deadline := time.After(30 * time.Second)
	for found := false; !found; {
		select {
		case l := <-follow.lines:
			found = strings.Contains(l, `node got {"follow":true}`)
		case <-deadline:
			t.Fatal("stoa fn logs --follow did not print the new invocation")
		}
	}
	if _, code := follow.stop(); code != 0 {
		t.Errorf("stoa fn logs --follow exited %d on SIGINT", code)
	}
	if r := <-invoked; r.code != 0 {
		t.Errorf("stoa fn invoke while following: %s", r.stdout)
	}

	mustStoa(t, dir, "fn", "rm", "hello-node")
	r = stoaCmd(t, dir, "fn", "invoke", "hello-node")
	if r.code != 1 || !strings.Contains(r.stderr, "fn_not_found") {
		t.Errorf("invoke after rm: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestUpdateUnderLoad runs `stoa fn update` while 8 callers on the mesh
// invoke the function without pause, 2,000 times or more: no invocation
// may fail, each reply comes from version 1 or 2, and every invocation
// that starts after the update command has returned gets version 2.
func TestUpdateUnderLoad(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	startUp(t, dir)
	mustStoa(t, dir, "fn", "create", "--name", "echo", "--runtime", "provided", "--concurrency", "4", bundleOne)
	e := caller(t, natsURL(t, dir), 1)

	const callers, before, after = 8, 1000, 1000
	var (
		updated  atomic.Bool  // the update command has returned
		started  atomic.Int64 // invocations begun
		afterUpd atomic.Int64 // invocations begun after the update returned
		mu       sync.Mutex
		byTag    = map[string]int{}
		failures []string
	)
	updateNow := make(chan struct{})
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopOnce.Do(func() { close(stop) }) // if the test fails early
	for range callers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				isAfter := updated.Load()
				n := started.Add(1)
				if n == before {
					close(updateNow)
				}
				if isAfter && afterUpd.Add(1) == after {
					stopOnce.Do(func() { close(stop) })
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				v, tag, err := invoke(ctx, e, "echo")
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case isAfter && (v != 2 || tag != "two"):
					failures = append(failures, fmt.Sprintf("an invocation begun after the update got version %d, tag %q", v, tag))
				case !(v == 1 && tag == "one" || v == 2 && tag == "two"):
					failures = append(failures, fmt.Sprintf("version %d with tag %q", v, tag))
				default:
					byTag[tag]++
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-updateNow:
	case <-time.After(2 * time.Minute):
		t.Fatal("the load did not reach 1,000 invocations in 2 minutes")
	}
	t0 := time.Now()
	out := mustStoa(t, dir, "fn", "update", "--name", "echo", "--concurrency", "4", bundleTwo)
	updated.Store(true)
	took := time.Since(t0)
	wg.Wait()
	if !strings.Contains(out, `"version": 2`) {
		t.Errorf("stoa fn update printed %s", out)
	}
	total := started.Load()
	t.Logf("%d invocations, %d failed; replies by version: %v; stoa fn update took %v", total, len(failures), byTag, took.Round(time.Millisecond))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("… %d failures in all", len(failures))
			break
		}
		t.Error(f)
	}
	if total < 2000 || byTag["one"] == 0 || byTag["two"] < after {
		t.Errorf("%d invocations, %v by tag; want ≥ 2,000, some of version 1 and ≥ %d of version 2", total, byTag, after)
	}
}

// TestRestart stops stoa up with Ctrl-C and starts it again on the same
// data directory: every function, version and alias is still there, and
// no function process outlived the first run.
func TestRestart(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	name := fmt.Sprintf("restart%d", os.Getpid())
	up, _ := startUp(t, dir)
	mustStoa(t, dir, "fn", "create", "--name", name, "--runtime", "provided", bundleOne)
	mustStoa(t, dir, "fn", "update", "--name", name, "--memory", "256", bundleTwo)
	mustStoa(t, dir, "fn", "alias", name, "prod", "1")
	mustStoa(t, dir, "fn", "invoke", name)
	if r := stoaCmd(t, dir, "up", "--listen", "127.0.0.1:0", "--http", "", "--gateway", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "another stoa up is running on ") {
		t.Errorf("a second stoa up on the same data directory: exit %d, stderr %q; want it refused", r.code, r.stderr)
	}
	listBefore := mustStoa(t, dir, "fn", "list", "--json")
	versionsBefore := mustStoa(t, dir, "fn", "versions", name, "--json")

	rest, code := up.stop()
	if code != 0 || upLine(rest, "stoa up: stopped") == "" {
		t.Fatalf("stoa up after Ctrl-C: exit %d, stdout %q, stderr %s", code, rest, up.errb)
	}
	if os.Geteuid() == 0 {
		if n := functionProcs(name); n != 0 {
			t.Errorf("%d processes of %s outlived stoa up", n, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".stoa", "nats.url")); !os.IsNotExist(err) {
		t.Errorf(".stoa/nats.url after stoa up stopped: %v, want it removed", err)
	}
	if r := stoaCmd(t, dir, "fn", "list"); r.code != 1 || !strings.Contains(r.stderr, "no stoa up found") {
		t.Errorf("stoa fn list with stoa up stopped: exit %d, stderr %q", r.code, r.stderr)
	}

	startUp(t, dir)
	if got := mustStoa(t, dir, "fn", "list", "--json"); got != listBefore {
		t.Errorf("after a restart, stoa fn list --json:\n%s\nbefore:\n%s", got, listBefore)
	}
	if got := mustStoa(t, dir, "fn", "versions", name, "--json"); got != versionsBefore {
		t.Errorf("after a restart, stoa fn versions --json:\n%s\nbefore:\n%s", got, versionsBefore)
	}
	for q, want := range map[string]string{"prod": "one", "latest": "two"} {
		if got := mustStoa(t, dir, "fn", "invoke", name, "--qualifier", q); !strings.Contains(got, `"tag":"`+want+`"`) {
			t.Errorf("after a restart, invoke --qualifier %s: %s, want tag %s", q, got, want)
		}
	}
}

// TestTwoWorkers runs a stoa worker beside stoa up's: both serve fn:*
// and share the invocations.
func TestTwoWorkers(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	startUp(t, dir)
	w, banner := startDaemon(t, dir, "ready", "worker", "--name", "second-worker")
	if !strings.Contains(banner[len(banner)-1], "nats="+natsURL(t, dir)) {
		t.Errorf("stoa worker printed %q, want it to name the NATS of stoa up", banner)
	}
	mustStoa(t, dir, "fn", "create", "--name", "echo", "--runtime", "provided", bundleOne)
	e := caller(t, natsURL(t, dir), 2)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, _, err := invoke(t.Context(), e, "echo"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	peers, err := mesh.List(t.Context(), mesh.WithURLs(natsURL(t, dir)))
	if err != nil {
		t.Fatal(err)
	}
	acts := map[string]int{}
	for _, p := range peers {
		for _, pin := range p.Pins {
			acts[p.Name] += pin.Acts
		}
	}
	if acts["stoa-up"] == 0 || acts["second-worker"] == 0 || acts["stoa-up"]+acts["second-worker"] != 200 {
		t.Errorf("acts served by node: %v; want 200 shared by stoa-up and second-worker", acts)
	}
	// The second worker leaves: the first takes everything, with no error.
	if _, code := w.stop(); code != 0 {
		t.Errorf("stoa worker exited %d on SIGINT; stderr %s", code, w.errb)
	}
	for i := range 20 {
		if _, _, err := invoke(t.Context(), e, "echo"); err != nil {
			t.Errorf("invocation %d after the second worker left: %v", i, err)
		}
	}
}

// TestBadInput feeds the CLI bundles and arguments the registry must
// refuse: each is refused with a clear error, and the registry is left as
// it was.
func TestBadInput(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	startUp(t, dir)
	mustStoa(t, dir, "fn", "create", "--name", "echo", "--runtime", "provided", bundleOne)
	snapshot := func() string {
		return mustStoa(t, dir, "fn", "list", "--json") + mustStoa(t, dir, "fn", "versions", "echo", "--json")
	}
	before := snapshot()

	mk := func(files map[string]string) string {
		d := t.TempDir()
		for p, c := range files {
			os.MkdirAll(filepath.Join(d, filepath.Dir(p)), 0o755)
			if err := os.WriteFile(filepath.Join(d, p), []byte(c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	zipOf := func(entries map[string]string) string {
		p := filepath.Join(t.TempDir(), "bundle.zip")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for name, c := range entries {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, c)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	noBootstrap := mk(map[string]string{"main.sh": "#!/bin/sh\n"})
	noHandler := mk(map[string]string{"other.js": "exports.x = 1\n"})
	escaping := zipOf(map[string]string{"bootstrap": "#!/bin/sh\n", "../evil": "x"})
	// Over MaxZipBytes zipped: a zip of random (incompressible) bytes.
	bigZip := filepath.Join(t.TempDir(), "big.zip")
	{
		f, err := os.Create(bigZip)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		rnd := make([]byte, 1<<20)
		for range fn.MaxZipBytes>>20 + 1 {
			rand.Read(rnd)
			w.Write(rnd)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	// Over MaxCodeBytes unzipped: a directory with a sparse file that big.
	bigDir := mk(map[string]string{"bootstrap": "#!/bin/sh\n"})
	if err := os.Truncate(filepath.Join(bigDir, "bootstrap"), fn.MaxCodeBytes+1); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		args []string
		code int
		err  string // in stderr
	}{
		{"no bootstrap", []string{"fn", "create", "--name", "nb", "--runtime", "provided", noBootstrap}, 1, "fn_invalid_bundle"},
		{"no handler file", []string{"fn", "create", "--name", "nh", "--runtime", "node", "--handler", "app.handler", noHandler}, 1, "fn_invalid_bundle"},
		{"node without a handler", []string{"fn", "create", "--name", "nh", "--runtime", "node", noHandler}, 1, "fn_invalid_config"},
		{"unknown runtime", []string{"fn", "create", "--name", "cobol", "--runtime", "cobol", bundleOne}, 1, "fn_invalid_config"},
		{"bad name", []string{"fn", "create", "--name", "bad name", "--runtime", "provided", bundleOne}, 1, "fn_invalid_name"},
		{"name with a slash", []string{"fn", "create", "--name", "../x", "--runtime", "provided", bundleOne}, 1, "fn_invalid_name"},
		{"zip escaping its directory", []string{"fn", "create", "--name", "zipslip", "--runtime", "provided", escaping}, 1, "fn_invalid_bundle"},
		{"oversized zip", []string{"fn", "create", "--name", "big", "--runtime", "provided", bigZip}, 1, "fn_bundle_too_large"},
		{"oversized code", []string{"fn", "create", "--name", "big", "--runtime", "provided", bigDir}, 1, "fn_bundle_too_large"},
		{"name taken", []string{"fn", "create", "--name", "echo", "--runtime", "provided", bundleOne}, 1, "fn_exists"},
		{"update of a missing function", []string{"fn", "update", "--name", "ghost", bundleOne}, 1, "fn_not_found"},
		{"update with a bad bundle", []string{"fn", "update", "--name", "echo", noBootstrap}, 1, "fn_invalid_bundle"},
		{"update to a bad memory size", []string{"fn", "update", "--name", "echo", "--memory", "5", "--keep-code"}, 1, "fn_invalid_config"},
		{"alias to a missing version", []string{"fn", "alias", "echo", "prod", "9"}, 1, "fn_version_not_found"},
		{"alias named latest", []string{"fn", "alias", "echo", "latest", "1"}, 1, "fn_invalid_alias"},
		{"alias to no number", []string{"fn", "alias", "echo", "prod", "one"}, 2, "want a version number"},
		{"no --name", []string{"fn", "create", "--runtime", "provided", bundleOne}, 2, "--name is required"},
		{"missing bundle", []string{"fn", "create", "--name", "x", "--runtime", "provided", filepath.Join(dir, "nope")}, 2, "no such file"},
		{"bundle not a zip", []string{"fn", "create", "--name", "x", "--runtime", "provided", filepath.Join(bundleOne, "tag.txt")}, 2, "want a directory or a .zip"},
		{"payload not JSON", []string{"fn", "invoke", "echo", "--payload", "{nope"}, 2, "--payload is not JSON"},
		{"invoke of a missing function", []string{"fn", "invoke", "ghost"}, 1, "fn_not_found"},
		{"invoke of a missing alias", []string{"fn", "invoke", "echo", "--qualifier", "staging"}, 1, "fn_alias_not_found"},
		{"rm of a missing function", []string{"fn", "rm", "ghost"}, 1, "fn_not_found"},
	} {
		r := stoaCmd(t, dir, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.err) {
			t.Errorf("%s: stoa %s: exit %d, stderr %q; want exit %d and %q", c.name, strings.Join(c.args, " "), r.code, r.stderr, c.code, c.err)
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 0 {
			t.Errorf("%s: %d lines on stderr, want one: %q", c.name, lines+1, r.stderr)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s changed the registry:\n%s\nbefore:\n%s", c.name, after, before)
		}
	}
}

// TestTwoWorkersOnABase runs the deployment shape of a cluster on one
// machine: a stoa base with JetStream and two stoa worker processes. Both
// serve fn:*, and the invocations are shared.
func TestTwoWorkersOnABase(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	_, lines := startDaemon(t, dir, "ready", "base", "--jetstream", "--data", filepath.Join(dir, "base"), "--listen", "127.0.0.1:0", "--http", "")
	url := strings.TrimPrefix(strings.Fields(lines[len(lines)-1])[1], "nats=")
	for _, name := range []string{"worker-a", "worker-b"} {
		startDaemon(t, dir, "ready", "worker", "--nats", url, "--name", name)
	}
	mustStoa(t, dir, "fn", "create", "--nats", url, "--name", "echo", "--runtime", "provided", bundleOne)
	e := caller(t, url, 2)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, _, err := invoke(t.Context(), e, "echo"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	peers, err := mesh.List(t.Context(), mesh.WithURLs(url))
	if err != nil {
		t.Fatal(err)
	}
	acts := map[string]int{}
	for _, p := range peers {
		for _, pin := range p.Pins {
			acts[p.Name] += pin.Acts
		}
	}
	if acts["worker-a"] == 0 || acts["worker-b"] == 0 || acts["worker-a"]+acts["worker-b"] != 200 {
		t.Errorf("acts served by node: %v; want 200 shared by worker-a and worker-b", acts)
	}
}
