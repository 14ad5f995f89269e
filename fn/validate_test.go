package fn

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sparse writes a file of size bytes that takes no room on disk.
func sparse(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestRefused: each bad input is refused with an *Error of the right code,
// naming the field at fault, and the registry is left as it was.
func TestRefused(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "exists", Config{Runtime: RuntimeNode, Handler: "app.handler"},
		ZipBytes(makeZip(t, nodeApp("app.js", "handler")))); err != nil {
		t.Fatal(err)
	}
	good := func() Bundle { return ZipBytes(makeZip(t, bootstrap("ok"))) }
	zipOf := func(files ...file) func() Bundle {
		return func() Bundle { return ZipBytes(makeZip(t, files...)) }
	}
	dirOf := func(files ...file) func() Bundle {
		return func() Bundle { return DirBundle(writeDir(t, files...)) }
	}
	bigZip := filepath.Join(t.TempDir(), "big.zip")
	sparse(t, bigZip, MaxZipBytes+1)
	bigDir := writeDir(t, bootstrap("big"))
	sparse(t, filepath.Join(bigDir, "blob"), MaxCodeBytes)
	node := func(handler string) Config { return Config{Runtime: RuntimeNode, Handler: handler} }
	env := func(kv ...string) Config {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return Config{Env: m}
	}

	for _, tc := range []struct {
		what   string
		name   string
		cfg    Config
		bundle func() Bundle
		want   *Error
		field  string // the Error's Field, if it must name one
		text   string // in the message
	}{
		// Names.
		{"empty name", "", Config{}, good, ErrInvalidName, "", "1 to 64"},
		{"space in name", "a b", Config{}, good, ErrInvalidName, "", ""},
		{"dot in name", "a.b", Config{}, good, ErrInvalidName, "", ""},
		{"path as name", "../x", Config{}, good, ErrInvalidName, "", ""},
		{"name of 65", strings.Repeat("a", 65), Config{}, good, ErrInvalidName, "", ""},
		{"non-ASCII name", "héllo", Config{}, good, ErrInvalidName, "", ""},
		{"wildcard name", "*", Config{}, good, ErrInvalidName, "", ""},
		{"name taken", "exists", Config{}, good, ErrExists, "", "exists"},

		// Runtimes and what they need.
		{"unknown runtime", "f", Config{Runtime: "python3.12"}, good, ErrInvalidConfig, "runtime", "python3.12"},
		{"no bootstrap", "f", Config{}, zipOf(txt("main.sh", "x")), ErrInvalidBundle, "bootstrap", "no bootstrap"},
		{"bootstrap not executable", "f", Config{}, zipOf(txt("bootstrap", "x")), ErrInvalidBundle, "bootstrap", "not executable"},
		{"bootstrap a directory", "f", Config{}, zipOf(exe("bootstrap/x", "x")), ErrInvalidBundle, "bootstrap", "not a file"},
		{"bootstrap not at the root", "f", Config{}, zipOf(exe("bin/bootstrap", "x")), ErrInvalidBundle, "bootstrap", ""},
		{"bootstrap a dangling link", "f", Config{}, zipOf(link("bootstrap", "bin/none")), ErrInvalidBundle, "bootstrap", ""},
		{"no code", "f", Config{}, func() Bundle { return nil }, ErrInvalidBundle, "", "needs code"},
		{"node without handler", "f", node(""), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", "required"},
		{"node handler without export", "f", node("app"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", "file.export"},
		{"node handler ending in a dot", "f", node("app."), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", ""},
		{"node handler without file", "f", node(".handler"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", ""},
		{"node handler with empty export", "f", node("app.a..b"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", ""},
		{"node handler leaving the bundle", "f", node("../app.handler"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", "inside the bundle"},
		{"node handler absolute", "f", node("/var/task/app.handler"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", "relative"},
		{"node handler with //", "f", node("a//app.handler"), zipOf(nodeApp("a/app.js", "handler")), ErrInvalidConfig, "handler", ""},
		{"node handler with a space", "f", node("app handler"), zipOf(nodeApp("app.js", "handler")), ErrInvalidConfig, "handler", ""},
		{"node handler file missing", "f", node("app.handler"), zipOf(nodeApp("index.js", "handler")), ErrInvalidBundle, "handler", "app.js, app.mjs or app.cjs"},
		{"node handler file in the wrong dir", "f", node("src/app.handler"), zipOf(nodeApp("app.js", "handler")), ErrInvalidBundle, "handler", "src/app.js"},
		{"node handler file a directory", "f", node("app.handler"), zipOf(nodeApp("app.js/x.js", "handler")), ErrInvalidBundle, "handler", ""},
		{"node handler .ts", "f", node("app.handler"), zipOf(nodeApp("app.ts", "handler")), ErrInvalidBundle, "handler", ""},
		{"go without Go files", "f", Config{Runtime: RuntimeGo}, func() Bundle { return DirBundle("testdata/go/nogo") }, ErrInvalidBundle, "", "main package"},
		{"go library package", "f", Config{Runtime: RuntimeGo}, func() Bundle { return DirBundle("testdata/go/lib") }, ErrInvalidBundle, "", `"lib"`},
		{"go that does not compile", "f", Config{Runtime: RuntimeGo}, func() Bundle { return DirBundle("testdata/go/broken") }, ErrBuildFailed, "", "undefined: undefinedFunction"},

		// Paths and links.
		{"zip slip ../", "f", Config{}, zipOf(bootstrap("x"), txt("../evil", "x")), ErrInvalidBundle, "../evil", "leaves the bundle"},
		{"zip slip a/../../", "f", Config{}, zipOf(bootstrap("x"), txt("a/../../evil", "x")), ErrInvalidBundle, "", "leaves the bundle"},
		{"zip slip absolute", "f", Config{}, zipOf(bootstrap("x"), txt("/tmp/evil", "x")), ErrInvalidBundle, "", "absolute"},
		{"zip slip backslash", "f", Config{}, zipOf(bootstrap("x"), txt(`..\evil`, "x")), ErrInvalidBundle, "", "backslash"},
		{"zip slip drive letter", "f", Config{}, zipOf(bootstrap("x"), txt("C:evil", "x")), ErrInvalidBundle, "", "drive"},
		{"zip with a NUL", "f", Config{}, zipOf(bootstrap("x"), txt("a\x00b", "x")), ErrInvalidBundle, "", ""},
		{"link escaping", "f", Config{}, zipOf(bootstrap("x"), link("l", "../outside")), ErrInvalidBundle, "l", "leaves the bundle"},
		{"link absolute", "f", Config{}, zipOf(bootstrap("x"), link("l", "/etc/passwd")), ErrInvalidBundle, "l", "leaves the bundle"},
		{"link escaping deep", "f", Config{}, zipOf(bootstrap("x"), link("a/b/l", "../../../x")), ErrInvalidBundle, "a/b/l", ""},
		{"link escaping through a link", "f", Config{}, zipOf(bootstrap("x"), link("q", "."), link("a/p", "../q/../x")), ErrInvalidBundle, "a/p", "leaves the bundle"},
		{"link chain escaping", "f", Config{}, zipOf(bootstrap("x"), link("a", "b/.."), link("b", "c/../.."), dirEntry("c/")), ErrInvalidBundle, "", "leaves the bundle"},
		{"link loop", "f", Config{}, zipOf(bootstrap("x"), link("a", "b"), link("b", "a")), ErrInvalidBundle, "", "levels of links"},
		{"file under a link", "f", Config{}, zipOf(bootstrap("x"), link("l", "sub"), dirEntry("sub/"), txt("l/x", "x")), ErrInvalidBundle, "l/x", "not a directory"},
		{"file under a file", "f", Config{}, zipOf(bootstrap("x"), txt("a", "x"), txt("a/b", "x")), ErrInvalidBundle, "a/b", ""},
		{"duplicate file", "f", Config{}, zipOf(bootstrap("x"), txt("a", "x"), txt("./a", "y")), ErrInvalidBundle, "a", "twice"},
		{"not a zip", "f", Config{}, func() Bundle { return ZipBytes([]byte("PK not really")) }, ErrInvalidBundle, "", "zip"},
		{"zip file missing", "f", Config{}, func() Bundle { return ZipBundle(filepath.Join(t.TempDir(), "none.zip")) }, ErrInvalidBundle, "", ""},
		{"dir missing", "f", Config{}, func() Bundle { return DirBundle(filepath.Join(t.TempDir(), "none")) }, ErrInvalidBundle, "", ""},
		{"dir link escaping", "f", Config{}, dirOf(bootstrap("x"), link("etc", "../../../etc")), ErrInvalidBundle, "etc", "leaves the bundle"},
		{"dir bootstrap linked outside", "f", Config{}, dirOf(link("bootstrap", "/bin/sh")), ErrInvalidBundle, "bootstrap", "leaves the bundle"},

		// Sizes.
		{"zip bytes over MaxZipBytes", "f", Config{}, func() Bundle { return ZipBytes(make([]byte, MaxZipBytes+1)) }, ErrBundleTooLarge, "", "52428801"},
		{"zip file over MaxZipBytes", "f", Config{}, func() Bundle { return ZipBundle(bigZip) }, ErrBundleTooLarge, "", ""},
		{"dir over MaxCodeBytes", "f", Config{}, func() Bundle { return DirBundle(bigDir) }, ErrBundleTooLarge, "", "262144000"},
		{"zip declaring over MaxCodeBytes", "f", Config{}, func() Bundle { return ZipBytes(bomb(t, MaxCodeBytes/(1<<20)+1, MaxCodeBytes+1)) }, ErrBundleTooLarge, "", ""},

		// Limits.
		{"memory below", "f", Config{MemoryMB: 64}, good, ErrInvalidConfig, "memoryMB", "128"},
		{"memory above", "f", Config{MemoryMB: 10241}, good, ErrInvalidConfig, "memoryMB", "10240"},
		{"memory negative", "f", Config{MemoryMB: -1}, good, ErrInvalidConfig, "memoryMB", ""},
		{"timeout below", "f", Config{Timeout: Duration(999 * time.Millisecond)}, good, ErrInvalidConfig, "timeout", "1s"},
		{"timeout above", "f", Config{Timeout: Duration(901 * time.Second)}, good, ErrInvalidConfig, "timeout", "15m0s"},
		{"timeout negative", "f", Config{Timeout: Duration(-time.Second)}, good, ErrInvalidConfig, "timeout", ""},
		{"tmp below", "f", Config{TmpMB: 511}, good, ErrInvalidConfig, "tmpMB", "512"},
		{"tmp above", "f", Config{TmpMB: 10241}, good, ErrInvalidConfig, "tmpMB", ""},
		{"concurrency negative", "f", Config{Concurrency: -1}, good, ErrInvalidConfig, "concurrency", "negative"},
		{"env AWS_LAMBDA_", "f", env("AWS_LAMBDA_FUNCTION_NAME", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env AWS_LAMBDA_ any", "f", env("AWS_LAMBDA_ANYTHING", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env _HANDLER", "f", env("_HANDLER", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env LAMBDA_TASK_ROOT", "f", env("LAMBDA_TASK_ROOT", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env LAMBDA_RUNTIME_DIR", "f", env("LAMBDA_RUNTIME_DIR", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env AWS_REGION", "f", env("AWS_REGION", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env AWS_SECRET_ACCESS_KEY", "f", env("AWS_SECRET_ACCESS_KEY", "x"), good, ErrInvalidConfig, "env", "reserved"},
		{"env TZ", "f", env("TZ", "UTC"), good, ErrInvalidConfig, "env", "reserved"},
		{"env name with a dash", "f", env("A-B", "x"), good, ErrInvalidConfig, "env", ""},
		{"env name with a digit first", "f", env("1A", "x"), good, ErrInvalidConfig, "env", ""},
		{"env name empty", "f", env("", "x"), good, ErrInvalidConfig, "env", ""},
		{"env value with NUL", "f", env("A", "x\x00y"), good, ErrInvalidConfig, "env", "NUL"},
		{"env over 4 KB", "f", env("A", strings.Repeat("x", MaxEnvBytes)), good, ErrInvalidConfig, "env", "4096"},
		{"route without method", "f", Config{Routes: []string{"/hello"}}, good, ErrInvalidConfig, "routes", ""},
		{"route lower-case method", "f", Config{Routes: []string{"get:/hello"}}, good, ErrInvalidConfig, "routes", ""},
		{"route without slash", "f", Config{Routes: []string{"GET:hello"}}, good, ErrInvalidConfig, "routes", ""},
		{"description too long", "f", Config{Description: strings.Repeat("d", 257)}, good, ErrInvalidConfig, "description", ""},
		{"provided handler with a space", "f", Config{Handler: "a b"}, good, ErrInvalidConfig, "handler", ""},
	} {
		before := snap(t, r)
		v, err := r.Create(ctx, tc.name, tc.cfg, tc.bundle())
		var fe *Error
		switch {
		case err == nil:
			t.Errorf("%s: Create(%q) = version %d, want %v", tc.what, tc.name, v.Number, tc.want)
			continue
		case !errors.As(err, &fe) || !errors.Is(err, tc.want):
			t.Errorf("%s: Create(%q) = %v, want %v", tc.what, tc.name, err, tc.want)
		case tc.field != "" && fe.Field != tc.field:
			t.Errorf("%s: Create(%q) = %v with field %q, want field %q", tc.what, tc.name, err, fe.Field, tc.field)
		case !strings.Contains(err.Error(), tc.text):
			t.Errorf("%s: Create(%q) = %q, want it to say %q", tc.what, tc.name, err, tc.text)
		case tc.want != ErrInvalidName && fe.Function != tc.name:
			t.Errorf("%s: Create(%q) = %v naming function %q, want %q", tc.what, tc.name, err, fe.Function, tc.name)
		}
		if after := snap(t, r); after != before {
			t.Errorf("%s: the registry changed: %+v, was %+v", tc.what, after, before)
		}
	}
	if fs, err := r.List(ctx); err != nil || len(fs) != 1 {
		t.Errorf("List after refusals = %v, %v; want the one function", fs, err)
	}
}

// TestUpdateRefused: a refused update leaves the function as it was.
func TestUpdateRefused(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "f", Config{Runtime: RuntimeNode, Handler: "app.handler"},
		ZipBytes(makeZip(t, nodeApp("app.js", "handler")))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what   string
		cfg    *Config
		bundle Bundle
		want   *Error
	}{
		{"handler file gone from new code", nil, ZipBytes(makeZip(t, nodeApp("index.js", "handler"))), ErrInvalidBundle},
		{"handler moved off the stored code", &Config{Runtime: RuntimeNode, Handler: "other.handler"}, nil, ErrInvalidBundle},
		{"runtime changed to provided without bootstrap", &Config{Runtime: RuntimeProvided}, nil, ErrInvalidBundle},
		{"runtime changed to go without Go", &Config{Runtime: RuntimeGo}, nil, ErrInvalidBundle},
		{"memory", &Config{Runtime: RuntimeNode, Handler: "app.handler", MemoryMB: 1}, nil, ErrInvalidConfig},
		{"zip slip", nil, ZipBytes(makeZip(t, nodeApp("app.js", "handler"), txt("../x", ""))), ErrInvalidBundle},
		{"too large", nil, ZipBytes(make([]byte, MaxZipBytes+1)), ErrBundleTooLarge},
	} {
		before := snap(t, r)
		if _, err := r.Update(ctx, "f", tc.cfg, tc.bundle); !errors.Is(err, tc.want) {
			t.Errorf("%s: Update = %v, want %v", tc.what, err, tc.want)
		}
		if after := snap(t, r); after != before {
			t.Errorf("%s: the registry changed: %+v, was %+v", tc.what, after, before)
		}
	}
	if f, err := r.Get(ctx, "f"); err != nil || f.Latest != 1 {
		t.Errorf("after refused updates: %v, %v; want latest 1", f, err)
	}
	// Accepted for contrast: the handler moved to a file the stored code has.
	v, err := r.Update(ctx, "f", &Config{Runtime: RuntimeNode, Handler: "app.other"}, nil)
	if err != nil || v.Number != 2 {
		t.Errorf("Update to another export of app.js = %v, %v", v, err)
	}
}

func TestNodeHandlers(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	for i, tc := range []struct {
		handler string
		files   []file
	}{
		{"app.handler", []file{nodeApp("app.js", "handler")}},
		{"app.handler", []file{nodeApp("app.mjs", "handler")}},
		{"app.handler", []file{nodeApp("app.cjs", "handler")}},
		{"src/app.handler", []file{nodeApp("src/app.js", "handler")}},
		{"src/lib/app.handler", []file{nodeApp("src/lib/app.mjs", "handler")}},
		{"app.routes.get", []file{nodeApp("app.js", "routes")}},
		{"app.proxyRouter", []file{nodeApp("app.js", "proxyRouter"), link("node_modules/.bin/claudia", "../claudia/bin/cmd.js"), txt("node_modules/claudia/bin/cmd.js", "")}},
		{"app.handler", []file{link("app.js", "dist/app.js"), nodeApp("dist/app.js", "handler")}},
	} {
		name := "node" + string(rune('a'+i))
		v, err := r.Create(ctx, name, Config{Runtime: RuntimeNode, Handler: tc.handler}, ZipBytes(makeZip(t, tc.files...)))
		if err != nil {
			t.Errorf("Create node handler %q: %v", tc.handler, err)
			continue
		}
		if v.Config.Handler != tc.handler {
			t.Errorf("stored handler %q, want %q", v.Config.Handler, tc.handler)
		}
	}
}

func TestGoRuntime(t *testing.T) {
	t.Parallel()
	r := newRegistry(t)
	ctx := t.Context()
	v, err := r.Create(ctx, "hello-go", Config{Runtime: RuntimeGo}, DirBundle("testdata/go/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Config.Runtime != RuntimeGo {
		t.Errorf("stored runtime %q, want %q", v.Config.Runtime, RuntimeGo)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := r.Code(ctx, v, dir); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(listTree(t, dir), " ")
	if want := "README.txt bootstrap* go.mod main.go"; got != want {
		t.Errorf("stored go bundle holds %q, want %q", got, want)
	}
	out, err := exec.Command(filepath.Join(dir, "bootstrap")).Output()
	if err != nil || string(out) != "hello from go\n" {
		t.Errorf("the built bootstrap printed %q, %v", out, err)
	}
	// The same source builds the same bytes: the code is not stored again.
	v2, err := r.Update(ctx, "hello-go", nil, DirBundle("testdata/go/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if v2.CodeSHA != v.CodeSHA || v2.CodeObject != v.CodeObject {
		t.Errorf("rebuilding the same source gave SHA %s, want %s (reproducible build)", v2.CodeSHA, v.CodeSHA)
	}
	// The built bundle switches to provided as it is.
	v3, err := r.Update(ctx, "hello-go", &Config{Runtime: RuntimeProvided}, nil)
	if err != nil || v3.CodeSHA != v.CodeSHA {
		t.Errorf("Update to provided on the built code = %v, %v", v3, err)
	}
}
