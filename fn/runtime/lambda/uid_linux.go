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

// uidLease holds a uid for one environment: an flock on Dir/uids/<uid>,
// which also keeps other processes sharing Dir (two workers) off it, and
// which the kernel releases if this process dies.
type uidLease struct {
	uid int
	f   *os.File
}

func leaseUID(dir string, want int) (*uidLease, error) {
	ldir := filepath.Join(dir, "uids")
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
