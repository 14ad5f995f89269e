//go:build unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// lockData takes the data directory for this stoa up: an exclusive flock on
// DATA/stoa.lock, which the kernel releases when the process ends however
// it ends. Two servers must never share one JetStream store.
func lockData(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(dir+"/stoa.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			where := ""
			if b, err := os.ReadFile(dir + "/" + natsURLFile); err == nil {
				where = " (NATS " + strings.TrimSpace(string(b)) + ")"
			}
			return nil, fmt.Errorf("another stoa up is running on %s%s", dir, where)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
