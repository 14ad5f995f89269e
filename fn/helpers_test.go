package fn

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stoaproject/stoa/internal/natstest"
)

// jsServer starts a NATS server with JetStream in a fresh store directory.
func jsServer(t testing.TB, change ...func(*server.Options)) *server.Server {
	t.Helper()
	dir := t.TempDir()
	return natstest.Server(t, append([]func(*server.Options){func(o *server.Options) {
		o.JetStream = true
		o.StoreDir = dir
	}}, change...)...)
}

// connect connects to url; the connection reconnects quickly and for ever.
func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// newRegistry opens a registry on a new server.
func newRegistry(t testing.TB) *Registry {
	t.Helper()
	s := jsServer(t)
	r, err := Open(t.Context(), connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// file is a path of a test bundle. A mode with fs.ModeSymlink makes a link
// to body; fs.ModeDir a directory.
type file struct {
	name string
	body string
	mode fs.FileMode
}

func exe(name, body string) file    { return file{name, body, 0o755} }
func txt(name, body string) file    { return file{name, body, 0o644} }
func link(name, target string) file { return file{name, target, fs.ModeSymlink | 0o777} }
func dirEntry(name string) file     { return file{name, "", fs.ModeDir | 0o755} }
func script(name, out string) file  { return exe(name, "#!/bin/sh\necho "+out+"\n") }
func bootstrap(out string) file     { return script("bootstrap", out) }
func provided(out string) []file {
	return []file{bootstrap(out), txt("data/readme.txt", "data for "+out)}
}
func nodeApp(name, handler string) file { return txt(name, "exports."+handler+" = async (e) => e;\n") }

// writeDir writes files into a new directory and returns it.
func writeDir(t testing.TB, files ...file) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case f.mode&fs.ModeSymlink != 0:
			err := os.Symlink(f.body, p)
			if err != nil {
				t.Fatal(err)
			}
		case f.mode.IsDir():
			if err := os.MkdirAll(p, f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(f.body), f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// makeZip returns a zip of files, names exactly as given, in that order.
func makeZip(t testing.TB, files ...file) []byte {
	t.Helper()
	b, err := zipOf(files...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zipOf(files ...file) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		fh := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		fh.SetMode(f.mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// snapshot is what the registry's streams hold: a change to either changes it.
type snapshot struct{ kvSeq, kvMsgs, objSeq, objMsgs uint64 }

func snap(t testing.TB, r *Registry) snapshot {
	t.Helper()
	var s snapshot
	for i, name := range []string{"KV_" + ConfigBucket, "OBJ_" + CodeBucket} {
		st, err := r.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s.kvSeq, s.kvMsgs = info.State.LastSeq, info.State.Msgs
		} else {
			s.objSeq, s.objMsgs = info.State.LastSeq, info.State.Msgs
		}
	}
	return s
}

// tree lists what dir holds: "path" for directories and files (with "*"
// for executables), "path -> target" for links, sorted.
func listTree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		case info.Mode()&0o111 != 0:
			out = append(out, rel+"*")
		default:
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// storedBytes returns the stored zip of v, checked against its SHA.
func storedBytes(t testing.TB, r *Registry, v *Version) []byte {
	t.Helper()
	b, err := r.obs.GetBytes(t.Context(), v.CodeObject)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != v.CodeSHA {
		t.Fatalf("stored zip of %s/%d: SHA %x, version says %s", v.Function, v.Number, got, v.CodeSHA)
	}
	return b
}

// keys returns the registry's keys that start with prefix.
func keys(t testing.TB, r *Registry, prefix string) []string {
	t.Helper()
	all, err := r.kv.Keys(t.Context())
	if err != nil && err != jetstream.ErrNoKeysFound {
		t.Fatal(err)
	}
	var out []string
	for _, k := range all {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// objects returns the names of the code objects that start with prefix.
func objects(t testing.TB, r *Registry, prefix string) []string {
	t.Helper()
	infos, err := r.obs.List(t.Context())
	if err != nil && err != jetstream.ErrNoObjectsFound {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		if strings.HasPrefix(in.Name, prefix) {
			out = append(out, in.Name)
		}
	}
	return out
}

// jsCluster starts 3 routed servers with JetStream, each with its own
// store directory. They start together: a clustered JetStream server is
// ready only once it sees its peers, so natstest.Cluster, which starts them
// one by one, cannot.
func jsCluster(t testing.TB) []*server.Server {
	t.Helper()
	const n = 3
	var routes []*url.URL
	ports := make([]int, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes = append(routes, &url.URL{Scheme: "nats", Host: l.Addr().String()})
	}
	base := t.TempDir()
	servers := make([]*server.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := natstest.Options()
		o.ServerName = fmt.Sprintf("fn-%d", i)
		o.Cluster = server.ClusterOpts{Name: "fn", Host: "127.0.0.1", Port: ports[i]}
		o.Routes = routes
		o.JetStream = true
		o.StoreDir = filepath.Join(base, o.ServerName)
		wg.Go(func() { servers[i], errs[i] = natstest.Start(o) })
	}
	wg.Wait()
	for i, s := range servers {
		if s != nil {
			t.Cleanup(s.Shutdown)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	return servers
}

// openWhenReady opens a registry once the cluster's JetStream has a meta
// leader, which it elects after the routes are up. Until then its API does
// not answer; each attempt waits for an answer for a short while.
func openWhenReady(t testing.TB, js jetstream.JetStream, opts ...Option) (*Registry, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		r, err := Open(ctx, js, opts...)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return r, err
		}
	}
}

// zeros returns a raw deflate stream of mib MiB of zeros, quickly: one
// compressed MiB repeated. A flushed stream ends on a byte boundary and
// its matches refer back only to zeros, so the copies chain into one
// stream, closed by an empty final block.
func zeros(mib int) []byte {
	var one bytes.Buffer
	w, _ := flate.NewWriter(&one, flate.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Flush()
	return append(bytes.Repeat(one.Bytes(), mib), 0x03, 0x00)
}

// bomb returns a zip with an executable bootstrap and one entry "bomb" of
// mib MiB of zeros whose header declares declared bytes (the CRC is not
// computed: readers must stop before the end).
func bomb(t testing.TB, mib int, declared uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "bootstrap", Method: zip.Store}
	fh.SetMode(0o755)
	w, err := zw.CreateHeader(fh)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "#!/bin/sh\n")
	data := zeros(mib)
	fh = &zip.FileHeader{Name: "bomb", Method: zip.Deflate, CompressedSize64: uint64(len(data)), UncompressedSize64: declared}
	fh.SetMode(0o644)
	raw, err := zw.CreateRaw(fh)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
