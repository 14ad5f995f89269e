//go:build unix

package fn

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDirBundleSpecialFiles: a FIFO in a directory refuses the bundle.
func TestDirBundleSpecialFiles(t *testing.T) {
	dir := writeDir(t, bootstrap("x"))
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	_, _, err := DirBundle(dir).list(defaultLimits)
	if !errors.Is(err, ErrInvalidBundle) || !strings.Contains(err.Error(), "pipe") {
		t.Errorf("a bundle with a FIFO = %v, want %v naming it", err, ErrInvalidBundle)
	}
}
