package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestBaseMaxPayload: a client of stoa base may send Lambda's 6 MB
// payloads by default (8MB, not NATS's 1MB); --max-payload changes the
// cap, and a --config file's max_payload counts unless the flag is given.
func TestBaseMaxPayload(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("max_payload: 2MB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want int64
	}{
		{nil, 8 << 20},
		{[]string{"--max-payload", "3MB"}, 3 << 20},
		{[]string{"--max-payload", "1048576"}, 1 << 20},
		{[]string{"--config", conf}, 2 << 20},
		{[]string{"--config", conf, "--max-payload", "4MB"}, 4 << 20},
	} {
		url, _ := startBase(t, append(c.args, "--http", "")...)
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		if got := nc.MaxPayload(); got != c.want {
			t.Errorf("stoa base %q: clients may send %d bytes, want %d", c.args, got, c.want)
		}
		nc.Close()
	}
	for _, bad := range []string{"lots", "-1MB", "65MB", "0"} {
		if code, _, errs := run(t, "base", "--max-payload", bad); code != 2 || !strings.Contains(errs, "--max-payload") {
			t.Errorf("stoa base --max-payload %s: exit %d, stderr %q; want 2 and a word on --max-payload", bad, code, errs)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"8MB", 8 << 20, true}, {"8mb", 8 << 20, true}, {"512KB", 512 << 10, true}, {"1GB", 1 << 30, true},
		{"100", 100, true}, {"100B", 100, true}, {"8 MB", 8 << 20, true}, {"8M", 8 << 20, true},
		{"", 0, false}, {"MB", 0, false}, {"x8MB", 0, false}, {"-3", 0, false}, {"1.5MB", 0, false},
		{"9999999999999GB", 0, false},
	} {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
