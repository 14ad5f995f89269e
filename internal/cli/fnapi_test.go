package cli

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGatewayToken: --token, then STOA_GATEWAY_TOKEN, then the data
// directory's gateway.token; none is a usage error naming all three, and
// nothing is made.
func TestGatewayToken(t *testing.T) {
	data := t.TempDir()
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, gatewayTokenFile), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag, env, data string
		want, err       string
	}{
		{flag: "from-flag", env: "from-env", data: data, want: "from-flag"},
		{env: "from-env", data: data, want: "from-env"},
		{data: data, want: "from-file"},
		{data: empty, err: "pass --token, set STOA_GATEWAY_TOKEN"},
	} {
		got, err := gatewayToken(c.flag, c.data, func(k string) string {
			if k == "STOA_GATEWAY_TOKEN" {
				return c.env
			}
			return ""
		})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("gatewayToken(%q, env %q, %s) = %q, %v; want error %q", c.flag, c.env, c.data, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("gatewayToken(%q, env %q, %s) = %q, %v; want %q", c.flag, c.env, c.data, got, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, gatewayTokenFile)); !os.IsNotExist(err) {
		t.Errorf("looking for a token made a token file (%v)", err)
	}
}

// TestZipBundle: a directory goes to the API as a zip with its files,
// their executable bits, its directories and its links as links.
func TestZipBundle(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "data.txt"), []byte("data"), 0o644)
	for p, mode := range map[string]os.FileMode{"lib": 0o755, "bootstrap": 0o755, "lib/data.txt": 0o644} {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	if err := os.Symlink("lib/data.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	b, err := zipBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = f.Mode().String() + " " + string(content)
	}
	want := map[string]string{
		"bootstrap":    "-rwxr-xr-x #!/bin/sh\n",
		"lib/":         "drwxr-xr-x ",
		"lib/data.txt": "-rw-r--r-- data",
		"link":         "Lrwxrwxrwx lib/data.txt",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("zip entry %s: %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("zip entries %v, want %v", got, want)
	}
	zf := filepath.Join(t.TempDir(), "code.zip")
	os.WriteFile(zf, b, 0o644)
	if again, err := zipBundle(zf); err != nil || !bytes.Equal(again, b) {
		t.Errorf("a .zip bundle is not sent as it is (%v)", err)
	}
	if _, err := zipBundle(filepath.Join(dir, "bootstrap")); err == nil {
		t.Error("a bundle that is neither a directory nor a .zip was taken")
	}
}
