package lambdastub_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoaproject/stoa/internal/lambdastub"
)

// TestEcho runs bench/fn's unmodified aws-lambda-go echo against the stub.
func TestEcho(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-o", bin, "../../bench/fn/testdata/echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s, err := lambdastub.Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i, ev := range []string{`{"n":1}`, `"two"`, `[3]`} {
		if i == 0 {
			if err := s.WaitParked(ctx); err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.Invoke(ctx, []byte(ev))
		if err != nil || !bytes.Equal(out, []byte(ev)) {
			t.Fatalf("Invoke(%s) = %s, %v", ev, out, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := s.Invoke(ctx, []byte(`{}`)); err == nil {
		t.Fatalf("Invoke after Close = %s, want an error", out)
	}
}
