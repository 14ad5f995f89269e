package lambda

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Everything an environment leaves on the host (its directory and /tmp
// image in Dir, its cgroups) is named stoa-<pid>-<random>, after the
// process that made it. A process that dies without closing its
// environments leaves them behind; the next process to use the same Dir or
// cgroups removes what belongs to dead pids.

func newName() string { return "stoa-" + strconv.Itoa(os.Getpid()) + "-" + randHex(6) }

// ownerDead reports whether name was made by a process that no longer runs.
func ownerDead(name string) bool {
	rest, ok := strings.CutPrefix(name, "stoa-")
	if !ok {
		return false
	}
	pidStr, _, ok := strings.Cut(rest, "-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

var swept sync.Map // Dir → struct{}

// sweepOnce removes, once per process and directory, what dead processes
// left in dir.
func sweepOnce(dir string) {
	if _, done := swept.LoadOrStore(dir, struct{}{}); done {
		return
	}
	ents, _ := os.ReadDir(dir)
	for _, d := range ents {
		if ownerDead(strings.TrimSuffix(d.Name(), ".tmp.ext4")) {
			os.RemoveAll(filepath.Join(dir, d.Name()))
		}
	}
}

// sweepCgroups removes the cgroups that dead processes left under parent,
// killing what still runs in them first: a worker that died took its
// runtimes with it (Pdeathsig), but not the processes they had started,
// which would otherwise share their uid with the next environment that
// leases it.
func sweepCgroups(parent string) {
	if parent == "" {
		return
	}
	ents, _ := os.ReadDir(parent)
	for _, d := range ents {
		if !d.IsDir() || !ownerDead(d.Name()) {
			continue
		}
		dir := filepath.Join(parent, d.Name())
		for i := 0; i < 50; i++ {
			ps := procs(dir)
			if len(ps) == 0 {
				break
			}
			for _, p := range ps {
				syscall.Kill(p, syscall.SIGKILL)
			}
			backoff(i)
		}
		os.Remove(dir) // fails harmlessly if something is still there
	}
}
