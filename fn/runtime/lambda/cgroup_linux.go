package lambda

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroups are one environment's control groups: v1 memory and pids children
// (joined by the spawning thread, so the runtime is inside from its first
// instruction) and a v2 child (entered with CLONE_INTO_CGROUP), which also
// gives cgroup.kill for the whole tree.
type cgroups struct {
	memV1, pidsV1 string
	v2            string
	v2fd          *os.File
	v2Mem, v2Pids bool
	oomBase       int64
	peakFile      *os.File // kept open: a pread is far cheaper than open+read+close
}

// newCgroups creates the environment's cgroups, without limits yet.
func newCgroups(h *host, name string) (*cgroups, error) {
	c := &cgroups{}
	mk := func(parent string) (string, error) {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
		return d, nil
	}
	var err error
	// v2 when it has the controllers, or only for cgroup.kill when v1 has no
	// pids hierarchy to find every task by.
	if h.v2 != "" && (h.v2Mem || h.v2Pids || (h.pidsV1 == "" && h.v2Kill)) {
		if c.v2, err = mk(h.v2); err != nil {
			return c, err
		}
		c.v2Mem, c.v2Pids = h.v2Mem, h.v2Pids
		if c.v2fd, err = os.Open(c.v2); err != nil {
			return c, err
		}
	}
	if h.memV1 != "" && !h.v2Mem {
		if c.memV1, err = mk(h.memV1); err != nil {
			return c, err
		}
	}
	if h.pidsV1 != "" && !h.v2Pids {
		if c.pidsV1, err = mk(h.pidsV1); err != nil {
			return c, err
		}
	}
	return c, nil
}

// limit sets the memory size and the task cap. Call it before the runtime
// starts: a cgroup holding only the spawning thread has nothing charged yet.
func (c *cgroups) limit(memBytes int64, pids int) error {
	if c.v2Mem {
		if err := writeFile(c.v2, "memory.max", memBytes); err != nil {
			return err
		}
		_ = writeFile(c.v2, "memory.swap.max", 0) // absent without swap accounting
	}
	if c.v2Pids {
		if err := writeFile(c.v2, "pids.max", int64(pids)); err != nil {
			return err
		}
	}
	if c.memV1 != "" {
		if err := writeFile(c.memV1, "memory.limit_in_bytes", memBytes); err != nil {
			return err
		}
		// With swap accounting, swap counts too; without it the file is absent.
		_ = writeFile(c.memV1, "memory.memsw.limit_in_bytes", memBytes)
	}
	if c.pidsV1 != "" {
		if err := writeFile(c.pidsV1, "pids.max", int64(pids)); err != nil {
			return err
		}
	}
	c.oomBase = c.oomKills()
	var err error
	switch {
	case c.v2Mem:
		c.peakFile, err = os.Open(filepath.Join(c.v2, "memory.peak"))
	case c.memV1 != "":
		c.peakFile, err = os.Open(filepath.Join(c.memV1, "memory.max_usage_in_bytes"))
	}
	return err
}

// cloneFD is the v2 cgroup to clone the runtime into (-1: none). A v2
// domain cgroup cannot take a single thread, so the spawning thread cannot
// join it ahead as it joins the v1 ones.
func (c *cgroups) cloneFD() int {
	if c.v2fd == nil {
		return -1
	}
	return int(c.v2fd.Fd())
}

func writeFile(dir, file string, v int64) error {
	return os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(v, 10)), 0)
}

// v1Tasks lists the v1 "tasks" files the spawning thread joins.
func (c *cgroups) v1Tasks() []string {
	var ts []string
	for _, d := range []string{c.memV1, c.pidsV1} {
		if d != "" {
			ts = append(ts, filepath.Join(d, "tasks"))
		}
	}
	return ts
}

// v1Leave lists the "tasks" files the spawning thread returns to after the
// fork: the memory cgroup's parent. It stays in the pids cgroup, which
// counts it (pids.max is one higher for it) but never kills it.
func (c *cgroups) v1Leave() []string {
	if c.memV1 == "" {
		return nil
	}
	return []string{filepath.Join(filepath.Dir(c.memV1), "tasks")}
}

// v1Exit lists the "tasks" files the spawning thread returns to once the
// runtime has exited: the pids cgroup's parent.
func (c *cgroups) v1Exit() []string {
	if c.pidsV1 == "" {
		return nil
	}
	return []string{filepath.Join(filepath.Dir(c.pidsV1), "tasks")}
}

// oomKills counts the kernel's OOM kills in the environment's memory cgroup.
func (c *cgroups) oomKills() int64 {
	switch {
	case c.v2Mem:
		return fieldOf(filepath.Join(c.v2, "memory.events"), "oom_kill")
	case c.memV1 != "":
		return fieldOf(filepath.Join(c.memV1, "memory.oom_control"), "oom_kill")
	}
	return 0
}

// oomKilled reports whether the kernel OOM-killed a task since creation.
func (c *cgroups) oomKilled() bool { return c.oomKills() > c.oomBase }

// peak is the most memory the environment has used, in bytes (0: unknown).
func (c *cgroups) peak() int64 {
	if c.peakFile == nil {
		return 0
	}
	var b [32]byte
	n, _ := c.peakFile.ReadAt(b[:], 0)
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b[:n])), 10, 64)
	return v
}

// kill SIGKILLs every task of the environment, however it left the process
// group, and returns once the cgroups are empty or after a bound.
func (c *cgroups) kill() {
	if c.v2 != "" {
		if err := os.WriteFile(filepath.Join(c.v2, "cgroup.kill"), []byte("1"), 0); err == nil {
			c.waitEmpty(c.v2)
		}
	}
	for _, d := range []string{c.pidsV1, c.memV1, c.v2} {
		if d == "" {
			continue
		}
		for i := 0; i < 100; i++ {
			pids := procs(d)
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			backoff(i)
		}
	}
}

// waitEmpty waits for killed tasks to leave the cgroup: the kernel gives no
// readiness signal a plain read can wait on, so poll with a short backoff.
func (c *cgroups) waitEmpty(d string) {
	for i := 0; i < 100 && len(procs(d)) > 0; i++ {
		backoff(i)
	}
}

func backoff(i int) { time.Sleep(time.Duration(min(i+1, 20)) * 100 * time.Microsecond) }

// remove deletes the cgroups; they must be empty (call kill first).
func (c *cgroups) remove() error {
	if c.v2fd != nil {
		c.v2fd.Close()
	}
	if c.peakFile != nil {
		c.peakFile.Close()
	}
	var errs []error
	for _, d := range []string{c.memV1, c.pidsV1, c.v2} {
		if d == "" {
			continue
		}
		var err error
		for i := 0; i < 200; i++ { // up to ~0.4 s: killed tasks leave asynchronously
			if err = os.Remove(d); err == nil || os.IsNotExist(err) || !errors.Is(err, syscall.EBUSY) {
				break
			}
			backoff(i)
		}
		if err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// procs lists the processes in a cgroup, less this one (whose spawning
// thread may still wait in the pids cgroup).
func procs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var ps []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil && n != self {
			ps = append(ps, n)
		}
	}
	return ps
}

// fieldOf reads "key value" lines and returns key's value.
func fieldOf(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
