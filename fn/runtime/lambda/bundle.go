package lambda

import (
	_ "embed"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
