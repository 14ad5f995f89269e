package lambda

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// host is what this machine lets the package enforce, probed once.
type host struct {
	root    bool   // euid 0: may switch uid, mount, use cgroups
	memV1   string // v1 memory cgroup under which environments get children ("" = none)
	pidsV1  string // v1 pids cgroup parent
	v2      string // our cgroup in the v2 hierarchy, if we may create children there
	v2Mem   bool   // v2 memory controller usable in children of v2
	v2Pids  bool   // v2 pids controller usable
	v2Kill  bool   // cgroup.kill exists (kernel 5.14+)
	mountNS bool   // unshare(CLONE_NEWNS) works on a thread
	loop    bool   // /dev/loop-control usable
	mkfs    string // path of mkfs.ext4
	why     map[string]string
	selfUID int
	selfGID int
}

var (
	hostOnce sync.Once
	theHost  *host
)

func probeHost() *host {
	hostOnce.Do(func() { theHost = probe() })
	return theHost
}

func probe() *host {
	h := &host{root: os.Geteuid() == 0, why: map[string]string{}, selfUID: os.Getuid(), selfGID: os.Getgid()}
	if !h.root {
		h.why["root"] = "not running as root"
		return h
	}
	paths := selfCgroups()
	try := func(dir string) bool {
		p := filepath.Join(dir, "stoa-probe-"+strconv.Itoa(os.Getpid()))
		if err := os.Mkdir(p, 0o755); err != nil && !os.IsExist(err) {
			return false
		}
		os.Remove(p)
		return true
	}
	// cgroup v2: the unified hierarchy, either at /sys/fs/cgroup (pure v2)
	// or /sys/fs/cgroup/unified (hybrid, as on our machine kind).
	for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(mnt, "cgroup.controllers")); err != nil {
			continue
		}
		dir := filepath.Join(mnt, paths[""])
		if !try(dir) {
			break
		}
		h.v2 = dir
		_, err := os.Stat(filepath.Join(dir, "cgroup.kill"))
		h.v2Kill = err == nil
		ctrl := readString(filepath.Join(dir, "cgroup.controllers"))
		sub := readString(filepath.Join(dir, "cgroup.subtree_control"))
		for _, c := range []string{"memory", "pids"} {
			if !hasWord(ctrl, c) {
				continue
			}
			if !hasWord(sub, c) {
				// Fails when our cgroup holds processes and is not the root:
				// the v2 "no internal processes" rule.
				if os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0) != nil {
					continue
				}
			}
			switch c {
			case "memory":
				h.v2Mem = true
			case "pids":
				h.v2Pids = true
			}
		}
		break
	}
	if !h.v2Mem {
		if d := filepath.Join("/sys/fs/cgroup/memory", paths["memory"]); paths["memory"] != "" && try(d) {
			h.memV1 = d
		}
	}
	if !h.v2Pids {
		if d := filepath.Join("/sys/fs/cgroup/pids", paths["pids"]); paths["pids"] != "" && try(d) {
			h.pidsV1 = d
		}
	}
	if !h.v2Mem && h.memV1 == "" {
		h.why["memory"] = "no memory cgroup controller this process may use (v1 or v2)"
	}
	if !h.v2Pids && h.pidsV1 == "" {
		h.why["pids"] = "no pids cgroup controller this process may use (v1 or v2)"
	}
	for _, d := range []string{h.v2, h.memV1, h.pidsV1} {
		sweepCgroups(d)
	}
	h.mountNS = canUnshareMount()
	if !h.mountNS {
		h.why["mountns"] = "cannot create a mount namespace"
	}
	if f, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0); err == nil {
		f.Close()
		h.loop = true
	} else {
		h.why["loop"] = "no /dev/loop-control: " + err.Error()
	}
	for _, p := range []string{"mkfs.ext4", "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
		if path, err := exec.LookPath(p); err == nil {
			h.mkfs = path
			break
		}
	}
	if h.mkfs == "" {
		h.why["mkfs"] = "mkfs.ext4 not found (Debian package e2fsprogs)"
	}
	return h
}

// canUnshareMount tries unshare(CLONE_NEWNS) on a thread that is then thrown away.
func canUnshareMount() bool {
	ok := make(chan bool)
	goOnOwnThread(func() { ok <- syscall.Unshare(syscall.CLONE_NEWNS) == nil })
	return <-ok
}

// selfCgroups maps a v1 controller name ("memory", "pids") or "" (v2) to
// this process's cgroup path.
func selfCgroups() map[string]string {
	m := map[string]string{}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// sandboxed reports whether environments get their own uid, mount
// namespace, private /tmp and read-only code.
func (h *host) sandboxed() bool { return h.root && h.mountNS && h.loop && h.mkfs != "" }

// HostLimits reports, for this machine and this process's privileges, which
// of Lambda's limits the package enforces and by what mechanism, or why not.
// "stoa up" prints it. The probe runs once per process.
func HostLimits() []Limit { return hostLimits(probeHost()) }

func hostLimits(h *host) []Limit {
	var ls []Limit
	add := func(name string, ok bool, how, whyNot string) {
		if ok {
			ls = append(ls, Limit{Name: name, Enforced: true, How: how})
		} else {
			ls = append(ls, Limit{Name: name, How: whyNot})
		}
	}
	add("timeout", true, "process group and cgroup killed at the deadline", "")
	add("payload", true, "request refused and response rejected over the cap (default 6 MB)", "")
	switch {
	case h.v2Mem:
		add("memory", true, "cgroup v2 memory.max", "")
	case h.memV1 != "":
		add("memory", true, "cgroup v1 memory.limit_in_bytes", "")
	default:
		add("memory", false, "", first(h.why["root"], h.why["memory"]))
	}
	switch {
	case h.v2Pids && h.root:
		add("processes", true, "cgroup v2 pids.max and RLIMIT_NPROC under a per-environment uid", "")
	case h.pidsV1 != "":
		add("processes", true, "cgroup v1 pids.max and RLIMIT_NPROC under a per-environment uid", "")
	default:
		add("processes", false, "", first(h.why["root"], h.why["pids"]))
	}
	add("file descriptors", true, "RLIMIT_NOFILE set before the runtime's first instruction", "")
	add("tmp", h.sandboxed(), "private mount namespace with a loop-mounted ext4 /tmp of the configured size",
		first(h.why["root"], h.why["mountns"], h.why["loop"], h.why["mkfs"]))
	add("isolation", h.sandboxed(), "own uid per environment, code in a 0700 dir mounted read-only at /var/task, clean environment",
		first(h.why["root"], h.why["mountns"], h.why["loop"], h.why["mkfs"])+"; functions run as this user and share /tmp")
	return ls
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return "not available"
}
