package gateway_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stoaproject/stoa/gateway"
	"github.com/stoaproject/stoa/stoahttp"
)

// TestDefaultsAsStoahttp holds the gateway's HTTP limits to stoahttp's,
// which it repeats rather than imports.
func TestDefaultsAsStoahttp(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"DefaultMaxBodyBytes", gateway.DefaultMaxBodyBytes, stoahttp.DefaultMaxBodyBytes},
		{"DefaultReadHeaderTimeout", gateway.DefaultReadHeaderTimeout, stoahttp.DefaultReadHeaderTimeout},
		{"DefaultReadTimeout", gateway.DefaultReadTimeout, stoahttp.DefaultReadTimeout},
		{"DefaultWriteTimeout", gateway.DefaultWriteTimeout, stoahttp.DefaultWriteTimeout},
		{"DefaultIdleTimeout", gateway.DefaultIdleTimeout, stoahttp.DefaultIdleTimeout},
	} {
		if c.got != c.want {
			t.Errorf("gateway.%s = %v, stoahttp's is %v", c.name, c.got, c.want)
		}
	}
}

// TestNoFasthttp: a program that embeds the gateway (on net/http) does not
// link stoahttp's fasthttp.
func TestNoFasthttp(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "fasthttp") || p == "github.com/stoaproject/stoa/stoahttp" {
			t.Errorf("package gateway pulls in %s", p)
		}
	}
}
