package lambda

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// tmpImages makes the ext4 images behind each environment's /tmp. mkfs runs
// once per size into a template (sparse: ~128 KiB on disk for 512 MiB); each
// environment gets a sparse copy of it, which takes well under a millisecond.
type tmpImages struct {
	mu   sync.Mutex
	made map[string]bool
}

var images = &tmpImages{made: map[string]bool{}}

// create writes a fresh, empty ext4 image of mb MiB at dst.
func (t *tmpImages) create(h *host, dir string, mb int, dst string) error {
	tmpl := filepath.Join(dir, "tmp-"+strconv.Itoa(mb)+"m.ext4")
	t.mu.Lock()
	if !t.made[tmpl] {
		if _, err := os.Stat(tmpl); err != nil {
			if err := mkfs(h, tmpl, mb); err != nil {
				t.mu.Unlock()
				return err
			}
		}
		t.made[tmpl] = true
	}
	t.mu.Unlock()
	return sparseCopy(tmpl, dst)
}

func mkfs(h *host, path string, mb int) error {
	part := path + ".part" + strconv.Itoa(os.Getpid())
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(mb) << 20)
	f.Close()
	if err != nil {
		return err
	}
	// No journal (the filesystem dies with the environment), no reserved
	// blocks (the function gets the whole size).
	out, err := exec.Command(h.mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "nodiscard", part).CombinedOutput()
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("mkfs.ext4: %v: %s", err, out)
	}
	return os.Rename(part, path) // atomic: other processes see a whole template or none
}

// sparseCopy copies src to dst, skipping holes.
func sparseCopy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	size := st.Size()
	var off int64
	for off < size {
		data, err := seek(in, off, seekData)
		if errors.Is(err, syscall.ENXIO) { // no data after off
			break
		}
		if err != nil {
			out.Close()
			return err
		}
		hole, err := seek(in, data, seekHole)
		if err != nil {
			out.Close()
			return err
		}
		if _, err := in.Seek(data, io.SeekStart); err != nil {
			out.Close()
			return err
		}
		if _, err := out.Seek(data, io.SeekStart); err != nil {
			out.Close()
			return err
		}
		if _, err := io.CopyN(out, in, hole-data); err != nil {
			out.Close()
			return err
		}
		off = hole
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

const (
	seekData = 3
	seekHole = 4
)

func seek(f *os.File, off int64, whence int) (int64, error) {
	n, err := syscall.Seek(int(f.Fd()), off, whence)
	return n, err
}
