package lambda

import (
	_ "embed"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// nodeBootstrap is Stoa's Node.js runtime client (node/bootstrap.cjs).
//
//go:embed node/bootstrap.cjs
var nodeBootstrap []byte

// copyTree copies the bundle at src into dst (which must not exist), owned
// by uid:gid when chown is set. Modes are kept (the exec bit matters),
// symlinks are copied as links, other special files are skipped.
func copyTree(src, dst string, uid, gid int, chown bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil
		}
		if chown {
			return os.Lchown(target, uid, gid)
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range: in-kernel
		out.Close()
		return err
	}
	return out.Close()
}

// sharedBundle returns the bundle's real path when a sandboxed environment
// may bind it read-only where it is instead of copying it (the copy of an
// 8 MB Go binary cost 3.5 ms of a 8 ms cold start): every file in it is
// readable by anyone and writable by root only, and one of its ancestors
// is a root-owned directory other users cannot enter, so that no other uid
// can reach it but through the bind. Every ancestor up to that one must be
// root's and not writable by others, or the path could be swapped. A
// bundle that does not qualify is copied, as without a sandbox. fn/worker
// keeps versions' code this way: see RATIONALE.md ("Code").
func sharedBundle(bundle string) (string, error) {
	p, err := filepath.EvalSymlinks(bundle)
	if err != nil {
		return "", err
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", err
	}
	closed := false
	for d := filepath.Dir(p); !closed; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return "", err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 {
			return "", errNotShared
		}
		closed = st.Mode().Perm()&0o001 == 0
		if d == "/" && !closed {
			return "", errNotShared
		}
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // resolved by the runtime, as in a copy
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sys, ok := info.Sys().(*syscall.Stat_t)
		perm := info.Mode().Perm()
		need := fs.FileMode(0o004)
		if d.IsDir() {
			need = 0o005
		}
		if !ok || sys.Uid != 0 || perm&0o022 != 0 || perm&need != need {
			return errNotShared
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return p, nil
}

var errNotShared = errors.New("bundle cannot be shared")
