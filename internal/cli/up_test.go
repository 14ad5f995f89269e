package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoaproject/stoa/fn/runtime/lambda"
)

func TestLimitsLine(t *testing.T) {
	for _, c := range []struct {
		limits []lambda.Limit
		want   string
	}{
		{[]lambda.Limit{{Name: "memory", Enforced: true, How: "cgroup v1"}, {Name: "timeout", Enforced: true}},
			"stoa up: every Lambda limit is enforced here: memory, timeout"},
		{[]lambda.Limit{{Name: "memory", How: "not root: no cgroups"}, {Name: "timeout", Enforced: true}, {Name: "processes", How: "not root"}},
			"stoa up: Lambda limits NOT enforced on this host: memory (not root: no cgroups); processes (not root)"},
	} {
		if got := limitsLine(c.limits); got != c.want {
			t.Errorf("limitsLine(%+v) = %q, want %q", c.limits, got, c.want)
		}
	}
}

func TestNATSTarget(t *testing.T) {
	dir := t.TempDir()
	withURL := filepath.Join(dir, "up")
	os.MkdirAll(withURL, 0o700)
	os.WriteFile(filepath.Join(withURL, natsURLFile), []byte("nats://127.0.0.1:4999\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o700)
	os.WriteFile(filepath.Join(empty, natsURLFile), nil, 0o600)
	for _, c := range []struct {
		name, flag, env, data string
		want, err             string
	}{
		{name: "flag first", flag: "nats://a:1", env: "nats://b:2", data: withURL, want: "nats://a:1"},
		{name: "then NATS_URL", env: "nats://b:2", data: withURL, want: "nats://b:2"},
		{name: "then stoa up's file", data: withURL, want: "nats://127.0.0.1:4999"},
		{name: "no stoa up", data: filepath.Join(dir, "none"), err: "no stoa up found"},
		{name: "empty file", data: empty, err: "is empty"},
	} {
		f := natsFlags{urls: c.flag}
		got, _, err := natsTarget(&f, c.data, func(k string) string {
			if k == "NATS_URL" {
				return c.env
			}
			return ""
		})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: natsTarget = %q, %v; want error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: natsTarget = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// TestListenGateway: a taken default address leaves stoa up without a
// gateway, with the reason; a taken address given with --gateway is an
// error naming the flag.
func TestListenGateway(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	ln, why, err := listenGateway(addr, false)
	if ln != nil || err != nil || !strings.Contains(why, addr+" is in use") {
		t.Errorf("listenGateway(taken, default) = %v, %q, %v; want no listener and the reason", ln, why, err)
	}
	ln, why, err = listenGateway(addr, true)
	if ln != nil || why != "" || err == nil || !strings.Contains(err.Error(), "--gateway") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("listenGateway(taken, given) = %v, %q, %v; want an error naming --gateway", ln, why, err)
	}
	ln, why, err = listenGateway("127.0.0.1:0", false)
	if ln == nil || why != "" || err != nil {
		t.Fatalf("listenGateway(free) = %v, %q, %v", ln, why, err)
	}
	ln.Close()
}
