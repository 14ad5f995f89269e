package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoaproject/stoa"
	"github.com/stoaproject/stoa/internal/natstest"
	"github.com/stoaproject/stoa/mesh"
)

// TestInvokeOverMaxPayload: stoa fn invoke with a payload bigger than the
// NATS server takes says so, with both sizes, instead of a mesh failure;
// one that fits goes through.
func TestInvokeOverMaxPayload(t *testing.T) {
	ns := natstest.Server(t) // NATS's default cap: 1 MB
	e := stoa.New()
	defer e.Close(context.Background())
	e.Add("fn:*", func(context.Context, stoa.Msg) (any, error) {
		return map[string]any{"version": 1, "payload": "ok"}, nil
	})
	n, err := mesh.Join(t.Context(), e, mesh.WithURLs(ns.ClientURL()), mesh.WithPins("fn:*"))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())

	ev := filepath.Join(t.TempDir(), "event.json")
	write := func(n int) {
		if err := os.WriteFile(ev, []byte(`"`+strings.Repeat("x", n)+`"`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1 << 10)
	if code, out, errs := run(t, "fn", "invoke", "hello", "--nats", ns.ClientURL(), "--payload", "@"+ev); code != 0 || strings.TrimSpace(out) != `"ok"` {
		t.Errorf("a small payload: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	write(2 << 20)
	code, _, errs := run(t, "fn", "invoke", "hello", "--nats", ns.ClientURL(), "--payload", "@"+ev)
	if code != 1 || !strings.Contains(errs, "does not fit the mesh") || !strings.Contains(errs, "1048576 bytes at most") {
		t.Errorf("a 2 MB payload on a 1 MB NATS: exit %d, stderr %q; want 1 and both sizes", code, errs)
	}
}
