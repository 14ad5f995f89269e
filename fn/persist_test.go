package fn

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/stoaproject/stoa/internal/natstest"
)

// TestPersistence: the registry outlives its server. A new server on the
// same store directory (what `stoa up` does when it starts again) serves
// every function, version, alias and byte of code, and numbering goes on.
func TestPersistence(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	options := func() *server.Options {
		o := natstest.Options()
		o.JetStream, o.StoreDir = true, store
		return o
	}
	s1, err := natstest.Start(options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s1.Shutdown)
	js1 := connect(t, s1.ClientURL())
	r1, err := Open(t.Context(), js1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		b := DirBundle(writeDir(t, provided(fmt.Sprint("a", i))...))
		if i == 1 {
			_, err = r1.Create(ctx, "a", Config{Env: map[string]string{"N": "1"}}, b)
		} else {
			_, err = r1.Update(ctx, "a", &Config{Env: map[string]string{"N": fmt.Sprint(i)}}, b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r1.SetAlias(ctx, "a", "prod", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Create(ctx, "b", Config{Runtime: RuntimeNode, Handler: "app.handler", Timeout: Duration(30e9)},
		ZipBytes(makeZip(t, nodeApp("app.js", "handler")))); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Create(ctx, "gone", Config{}, ZipBytes(makeZip(t, bootstrap("gone")))); err != nil {
		t.Fatal(err)
	}
	if err := r1.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	wantList, _ := r1.List(ctx)
	wantA, _ := r1.Versions(ctx, "a")
	wantB, _ := r1.Versions(ctx, "b")

	js1.Conn().Close()
	s1.Shutdown()
	s1.WaitForShutdown()

	s2, err := natstest.Start(options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Shutdown)
	r2, err := Open(ctx, connect(t, s2.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	gotList, err := r2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotList) != fmt.Sprint(wantList) {
		t.Errorf("List after restart:\n got %v\nwant %v", gotList, wantList)
	}
	for name, want := range map[string][]Version{"a": wantA, "b": wantB} {
		got, err := r2.Versions(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Versions(%s) after restart:\n got %v\nwant %v", name, got, want)
		}
		for _, v := range got {
			dir := filepath.Join(t.TempDir(), "code")
			if err := r2.Code(ctx, &v, dir); err != nil {
				t.Errorf("Code(%s/%d) after restart: %v", name, v.Number, err)
				continue
			}
			if name == "a" {
				out, err := exec.Command(filepath.Join(dir, "bootstrap")).Output()
				if want := fmt.Sprintf("a%d\n", v.Number); err != nil || string(out) != want {
					t.Errorf("a/%d's bootstrap after restart printed %q, %v; want %q", v.Number, out, err, want)
				}
			}
		}
	}
	if v, err := r2.Resolve(ctx, "a", "prod"); err != nil || v.Number != 2 || v.Config.Env["N"] != "2" {
		t.Errorf("Resolve(a, prod) after restart = %+v, %v; want version 2", v, err)
	}
	if _, err := r2.Get(ctx, "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted function after restart: %v, want %v", err, ErrNotFound)
	}
	v, err := r2.Update(ctx, "a", nil, nil)
	if err != nil || v.Number != 4 {
		t.Errorf("Update after restart = %v, %v; want version 4", v, err)
	}
}
