package lambda

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
)

// Environments run as uids from this range when Config.UID is 0.
const (
	uidBase  = 200000
	uidCount = 10000
)

var uidNext atomic.Uint32

// uidLease holds a uid for one environment: an flock on a file named after
// it in one directory for the whole host (not per Dir: two workers with
// different Dirs must not share a uid either), which the kernel releases
// if this process dies.
type uidLease struct {
	uid int
	f   *os.File
}

// uidLockDir is where the leases live: /run (tmpfs, root's) where it
// exists, else the temporary directory.
func uidLockDir() string {
	if st, err := os.Stat("/run"); err == nil && st.IsDir() {
		return "/run/stoa-lambda/uids"
	}
	return filepath.Join(os.TempDir(), "stoa-lambda-uids")
}

func leaseUID(want int) (*uidLease, error) {
	ldir := uidLockDir()
	if err := os.MkdirAll(ldir, 0o700); err != nil {
		return nil, err
	}
	try := func(uid int) (*uidLease, error) {
		f, err := os.OpenFile(filepath.Join(ldir, strconv.Itoa(uid)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			return nil, err
		}
		return &uidLease{uid: uid, f: f}, nil
	}
	if want > 0 {
		l, err := try(want)
		if err != nil {
			return nil, fmt.Errorf("lambda: uid %d: in use by another environment (%w)", want, err)
		}
		return l, nil
	}
	start := int(uidNext.Add(1))
	for i := 0; i < uidCount; i++ {
		if l, err := try(uidBase + (start+i)%uidCount); err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("lambda: no free uid in %d-%d", uidBase, uidBase+uidCount-1)
}

func (l *uidLease) release() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}
