package fn

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestCreateGetResolveCode(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	cfg := Config{Runtime: RuntimeProvided, Env: map[string]string{"GREETING": "hi"}, Description: "first"}
	v, err := r.Create(ctx, "hello", cfg, DirBundle(writeDir(t, provided("v1")...)))
	if err != nil {
		t.Fatal(err)
	}
	if v.Function != "hello" || v.Number != 1 || v.CodeSize == 0 || len(v.CodeSHA) != 64 || v.CodeObject == "" {
		t.Errorf("Create = %+v, want hello version 1 with code", v)
	}
	want := Config{Runtime: RuntimeProvided, MemoryMB: DefaultMemoryMB, Timeout: Duration(DefaultTimeout), TmpMB: DefaultTmpMB,
		Concurrency: DefaultConcurrency, Env: map[string]string{"GREETING": "hi"}, Description: "first"}
	if fmt.Sprint(v.Config) != fmt.Sprint(want) {
		t.Errorf("stored config = %+v, want %+v (defaults filled in)", v.Config, want)
	}
	storedBytes(t, r, v)

	f, err := r.Get(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "hello" || f.Latest != 1 || len(f.Aliases) != 0 || f.Created.IsZero() || !f.Updated.Equal(f.Created) {
		t.Errorf("Get = %+v, want hello, latest 1, no aliases", f)
	}
	for _, q := range []string{"", "latest", "$LATEST", "LATEST", "1", "01"} {
		got, err := r.Resolve(ctx, "hello", q)
		if err != nil {
			t.Errorf("Resolve(hello, %q): %v", q, err)
			continue
		}
		if got.Number != 1 || got.CodeSHA != v.CodeSHA {
			t.Errorf("Resolve(hello, %q) = version %d, want 1", q, got.Number)
		}
	}
	for q, code := range map[string]string{"2": CodeVersionNotFound, "0": CodeVersionNotFound,
		"99999999999999999999999": CodeVersionNotFound, "prod": CodeAliasNotFound} {
		if _, err := r.Resolve(ctx, "hello", q); !errors.Is(err, &Error{Code: code}) {
			t.Errorf("Resolve(hello, %q) = %v, want %s", q, err, code)
		}
	}
	if _, err := r.Resolve(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve(nope) = %v, want %v", err, ErrNotFound)
	}
	if _, err := r.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v, want %v", err, ErrNotFound)
	}

	dir := filepath.Join(t.TempDir(), "code")
	if err := r.Code(ctx, v, dir); err != nil {
		t.Fatal(err)
	}
	if got, want := listTree(t, dir), []string{"bootstrap*", "data/", "data/readme.txt"}; !slices.Equal(got, want) {
		t.Errorf("Code wrote %q, want %q", got, want)
	}
	out, err := exec.Command(filepath.Join(dir, "bootstrap")).Output()
	if err != nil || string(out) != "v1\n" {
		t.Errorf("running the bootstrap written by Code: %q, %v; want \"v1\\n\"", out, err)
	}
	if err := r.Code(ctx, v, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Code into a directory that is not empty = %v, want an error", err)
	}
	if err := r.Code(ctx, v, filepath.Join(dir, "bootstrap")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Code into a file = %v, want an error", err)
	}
	empty := t.TempDir()
	if err := r.Code(ctx, v, empty); err != nil {
		t.Errorf("Code into an empty directory: %v", err)
	}
}

func TestCreateExists(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("v1")...))); err != nil {
		t.Fatal(err)
	}
	before := snap(t, r)
	_, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("other")...)))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Create of an existing name = %v, want %v", err, ErrExists)
	}
	if after := snap(t, r); after != before {
		t.Errorf("registry changed: %+v, was %+v", after, before)
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Function != "hello" || !strings.Contains(err.Error(), "hello") {
		t.Errorf("error %q does not name the function", err)
	}
}

func TestUpdate(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	v1, err := r.Create(ctx, "hello", Config{Description: "one"}, DirBundle(writeDir(t, provided("v1")...)))
	if err != nil {
		t.Fatal(err)
	}
	// nil cfg, new code.
	v2, err := r.Update(ctx, "hello", nil, DirBundle(writeDir(t, provided("v2")...)))
	if err != nil {
		t.Fatal(err)
	}
	if v2.Number != 2 || v2.Config.Description != "one" || v2.CodeSHA == v1.CodeSHA || v2.CodeObject == v1.CodeObject {
		t.Errorf("Update(nil cfg, new code) = %+v; want version 2, config kept, new code", v2)
	}
	// New cfg, nil code: the stored zip is reused.
	v3, err := r.Update(ctx, "hello", &Config{Description: "three", MemoryMB: 256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Number != 3 || v3.Config.Description != "three" || v3.Config.MemoryMB != 256 || v3.CodeSHA != v2.CodeSHA || v3.CodeObject != v2.CodeObject {
		t.Errorf("Update(new cfg, nil code) = %+v; want version 3, new config, v2's code", v3)
	}
	// The same code again: no new object.
	v4, err := r.Update(ctx, "hello", nil, DirBundle(writeDir(t, provided("v2")...)))
	if err != nil {
		t.Fatal(err)
	}
	if v4.CodeObject != v3.CodeObject {
		t.Errorf("Update with unchanged code stored a new object %s, want %s reused", v4.CodeObject, v3.CodeObject)
	}
	f, err := r.Get(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if f.Latest != 4 || !f.Updated.After(f.Created) {
		t.Errorf("Get after updates = %+v, want latest 4, updated after created", f)
	}
	vs, err := r.Versions(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d:%s:%s", v.Number, v.Config.Description, v.CodeSHA[:8]))
	}
	want := []string{"1:one:" + v1.CodeSHA[:8], "2:one:" + v2.CodeSHA[:8], "3:three:" + v2.CodeSHA[:8], "4:three:" + v2.CodeSHA[:8]}
	if !slices.Equal(got, want) {
		t.Errorf("Versions = %q, want %q", got, want)
	}
	for n := 1; n <= 4; n++ {
		v, err := r.Version(ctx, "hello", n)
		if err != nil || v.Number != n {
			t.Errorf("Version(hello, %d) = %v, %v", n, v, err)
		}
	}
	for _, n := range []int{0, 5, -1} {
		if _, err := r.Version(ctx, "hello", n); !errors.Is(err, ErrVersionNotFound) {
			t.Errorf("Version(hello, %d) = %v, want %v", n, err, ErrVersionNotFound)
		}
	}
	// Old versions keep their code.
	dir := filepath.Join(t.TempDir(), "v1")
	if err := r.Code(ctx, v1, dir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(dir, "bootstrap")).Output(); err != nil || string(out) != "v1\n" {
		t.Errorf("version 1's bootstrap printed %q, %v; want v1", out, err)
	}
	if _, err := r.Update(ctx, "nope", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(nope) = %v, want %v", err, ErrNotFound)
	}
}

// TestUpdateConcurrent: updates racing from many goroutines each get their
// own number, and none is lost.
func TestUpdateConcurrent(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "hello", Config{Description: "base"}, DirBundle(writeDir(t, provided("v1")...))); err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	numbers := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var b Bundle
			if i%3 == 0 { // some bring code, so uploads race too
				b = ZipBytes(makeZip(t, bootstrap(fmt.Sprint("g", i))))
			}
			v, err := r.Update(ctx, "hello", &Config{Description: fmt.Sprint("g", i)}, b)
			errs[i] = err
			if err == nil {
				numbers[i] = v.Number
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update g%d: %v", i, err)
		}
	}
	slices.Sort(numbers)
	for i, got := range numbers {
		if want := i + 2; got != want {
			t.Fatalf("version numbers given = %v, want 2..%d once each", numbers, n+1)
		}
	}
	vs, err := r.Versions(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, v := range vs {
		seen[v.Config.Description]++
	}
	if len(vs) != n+1 || seen["base"] != 1 {
		t.Errorf("Versions holds %d versions (%v), want %d", len(vs), seen, n+1)
	}
	for i := range n {
		if d := fmt.Sprint("g", i); seen[d] != 1 {
			t.Errorf("update %s is in %d versions, want 1", d, seen[d])
		}
	}
	// Every version's code is there and matches its SHA.
	for _, v := range vs {
		storedBytes(t, r, &v)
	}
}

func TestAliases(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("v1")...))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, "hello", nil, DirBundle(writeDir(t, provided("v2")...))); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAlias(ctx, "hello", "prod", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAlias(ctx, "hello", "canary_2-x", 2); err != nil {
		t.Fatal(err)
	}
	resolve := func(q string) int {
		t.Helper()
		v, err := r.Resolve(ctx, "hello", q)
		if err != nil {
			t.Fatalf("Resolve(hello, %q): %v", q, err)
		}
		return v.Number
	}
	if got := resolve("prod"); got != 1 {
		t.Errorf("Resolve(prod) = %d, want 1", got)
	}
	if got := resolve("canary_2-x"); got != 2 {
		t.Errorf("Resolve(canary_2-x) = %d, want 2", got)
	}
	if _, err := r.Update(ctx, "hello", &Config{Description: "v3"}, nil); err != nil {
		t.Fatal(err)
	}
	if got, gotLatest := resolve("prod"), resolve(""); got != 1 || gotLatest != 3 {
		t.Errorf("after an update: prod = %d, latest = %d; want 1, 3", got, gotLatest)
	}
	if err := r.SetAlias(ctx, "hello", "prod", 3); err != nil {
		t.Fatal(err)
	}
	if got := resolve("prod"); got != 3 {
		t.Errorf("Resolve(prod) after moving it = %d, want 3", got)
	}
	f, _ := r.Get(ctx, "hello")
	if fmt.Sprint(f.Aliases) != "map[canary_2-x:2 prod:3]" {
		t.Errorf("Aliases = %v, want canary_2-x:2 prod:3", f.Aliases)
	}
	if err := r.DeleteAlias(ctx, "hello", "canary_2-x"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "hello", "canary_2-x"); !errors.Is(err, ErrAliasNotFound) {
		t.Errorf("Resolve of a deleted alias = %v, want %v", err, ErrAliasNotFound)
	}
	if err := r.DeleteAlias(ctx, "hello", "canary_2-x"); !errors.Is(err, ErrAliasNotFound) {
		t.Errorf("DeleteAlias of a missing alias = %v, want %v", err, ErrAliasNotFound)
	}

	before := snap(t, r)
	for _, tc := range []struct {
		alias   string
		version int
		want    *Error
	}{
		{"latest", 1, ErrInvalidAlias},
		{"LATEST", 1, ErrInvalidAlias},
		{"$LATEST", 1, ErrInvalidAlias},
		{"", 1, ErrInvalidAlias},
		{"12", 1, ErrInvalidAlias},
		{"a b", 1, ErrInvalidAlias},
		{"a.b", 1, ErrInvalidAlias},
		{strings.Repeat("a", 65), 1, ErrInvalidAlias},
		{"prod", 0, ErrVersionNotFound},
		{"prod", 4, ErrVersionNotFound},
		{"prod", 3, nil}, // unchanged: nothing written
	} {
		err := r.SetAlias(ctx, "hello", tc.alias, tc.version)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("SetAlias(hello, %q, %d) = %v, want %v", tc.alias, tc.version, err, tc.want)
		}
	}
	if err := r.SetAlias(ctx, "nope", "prod", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAlias(nope) = %v, want %v", err, ErrNotFound)
	}
	if after := snap(t, r); after != before {
		t.Errorf("refused alias changes changed the registry: %+v, was %+v", after, before)
	}
}

func TestDelete(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	if _, err := r.Create(ctx, "keep", Config{}, DirBundle(writeDir(t, provided("keep")...))); err != nil {
		t.Fatal(err)
	}
	v1, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("v1")...)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := r.Update(ctx, "hello", nil, ZipBytes(makeZip(t, bootstrap(fmt.Sprint("u", i))))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetAlias(ctx, "hello", "prod", 2); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, r, "ver.hello."); len(got) != 4 {
		t.Fatalf("before Delete: version keys %q, want 4", got)
	}
	if err := r.Delete(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, r, "fn.hello"); len(got) != 0 {
		t.Errorf("after Delete: keys %q remain", got)
	}
	if got := keys(t, r, "ver.hello."); len(got) != 0 {
		t.Errorf("after Delete: version keys %q remain", got)
	}
	if got := objects(t, r, "hello/"); len(got) != 0 {
		t.Errorf("after Delete: code %q remains", got)
	}
	if _, err := r.Get(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v, want %v", err, ErrNotFound)
	}
	if err := r.Code(ctx, v1, filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Code of a deleted version = %v, want %v", err, ErrNotFound)
	}
	if err := r.Delete(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want %v", err, ErrNotFound)
	}
	fs, err := r.List(ctx)
	if err != nil || len(fs) != 1 || fs[0].Name != "keep" {
		t.Errorf("List after Delete = %v, %v; want keep only", fs, err)
	}
	if got := objects(t, r, "keep/"); len(got) != 1 {
		t.Errorf("another function's code: %q, want 1 object", got)
	}
	// The name can be created again: a new function from version 1.
	v, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("again")...)))
	if err != nil || v.Number != 1 {
		t.Fatalf("Create after Delete = %v, %v; want version 1", v, err)
	}
	f, _ := r.Get(ctx, "hello")
	if len(f.Aliases) != 0 {
		t.Errorf("a recreated function has aliases %v", f.Aliases)
	}
}

func TestList(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	fs, err := r.List(ctx)
	if err != nil || len(fs) != 0 {
		t.Fatalf("List of an empty registry = %v, %v", fs, err)
	}
	for _, name := range []string{"b", "a-1", "C", "a_0", "z"} {
		if _, err := r.Create(ctx, name, Config{}, ZipBytes(makeZip(t, bootstrap(name)))); err != nil {
			t.Fatal(err)
		}
	}
	fs, err = r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Name)
	}
	if want := []string{"C", "a-1", "a_0", "b", "z"}; !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func TestCodeCorrupt(t *testing.T) {
	r := newRegistry(t)
	ctx := t.Context()
	v, err := r.Create(ctx, "hello", Config{}, DirBundle(writeDir(t, provided("v1")...)))
	if err != nil {
		t.Fatal(err)
	}
	b := storedBytes(t, r, v)
	bad := slices.Clone(b)
	bad[len(bad)/2] ^= 0xff
	if _, err := r.obs.PutBytes(ctx, v.CodeObject, bad); err != nil { // same size, other bytes
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := r.Code(ctx, v, dir); !errors.Is(err, ErrCodeCorrupt) {
		t.Errorf("Code of altered code = %v, want %v", err, ErrCodeCorrupt)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Code of altered code left %s: %v", dir, err)
	}
	if err := r.Code(ctx, nil, dir); !errors.Is(err, ErrVersionNotFound) {
		t.Errorf("Code(nil) = %v, want %v", err, ErrVersionNotFound)
	}
}

func TestOpenOptions(t *testing.T) {
	s := jsServer(t)
	js := connect(t, s.ClientURL())
	for _, n := range []int{0, 6, -1} {
		if _, err := Open(t.Context(), js, WithReplicas(n)); err == nil {
			t.Errorf("Open(WithReplicas(%d)) succeeded, want an error", n)
		}
	}
	r1, err := Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Create(t.Context(), "hello", Config{}, ZipBytes(makeZip(t, bootstrap("x")))); err != nil {
		t.Fatal(err)
	}
	// A second Open binds to the same buckets.
	r2, err := Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Get(t.Context(), "hello"); err != nil {
		t.Errorf("a second Open does not see the first's function: %v", err)
	}
}

// TestReplicas: on a 3-server cluster, WithReplicas(3) makes both buckets R3.
func TestReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a 3-server JetStream cluster")
	}
	servers := jsCluster(t)
	js := connect(t, servers[0].ClientURL())
	ctx := t.Context()
	r, err := openWhenReady(t, js, WithReplicas(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"KV_" + ConfigBucket, "OBJ_" + CodeBucket} {
		st, err := r.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("stream %s has %d replicas, want 3", name, got)
		}
	}
	if _, err := r.Create(ctx, "hello", Config{}, ZipBytes(makeZip(t, bootstrap("x")))); err != nil {
		t.Fatal(err)
	}
	// A client of another server sees it (once that server answers
	// JetStream requests, which under load can take a while).
	r2, err := openWhenReady(t, connect(t, servers[2].ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r2.Resolve(ctx, "hello", ""); err != nil || v.Number != 1 {
		t.Errorf("Resolve from another server = %v, %v", v, err)
	}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := r.Update(ctx, "hello", &Config{Description: fmt.Sprint(i)}, nil); err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if f, err := r2.Get(ctx, "hello"); err != nil || f.Latest != 7 {
		t.Errorf("after 6 concurrent updates on R3: %v, %v; want latest 7", f, err)
	}
}
