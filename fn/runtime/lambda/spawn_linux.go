package lambda

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// spawnSpec says how to start one runtime process.
type spawnSpec struct {
	argv   []string
	env    []string
	dir    string   // working directory (inside the new mount namespace)
	stdout *os.File // stdout and stderr
	uid    int      // run as uid:gid when sandboxed (else -1)
	gid    int

	mounts  bool   // sandboxed: binds below in a prepared mount namespace (see sandboxThread)
	taskRel string // relative to the sandbox's Dir: bound read-only at taskRoot
	taskAbs string // or this host path, when the bundle is bound where it is (sharedBundle)
	rtRel   string // relative to the sandbox's Dir: bound read-only at runtimeDir
	dirFD   int    // the sandbox's Dir, opened before /tmp was replaced
	tmpFD   int    // the host's /tmp, likewise

	cgTasks  []string // v1 "tasks" files the spawning thread joins before fork
	cgLeave  []string // and the "tasks" files it moves back to right after
	cgExit   []string // and those it moves back to once the runtime exited
	cgFD     int      // v2 cgroup to clone into (-1: none)
	nofile   uint64   // RLIMIT_NOFILE (0: leave)
	nproc    uint64   // RLIMIT_NPROC (0: leave)
	pdeathOK bool     // SIGKILL the runtime if the spawning thread dies
}

const (
	taskRoot   = "/var/task"
	runtimeDir = "/var/runtime"
)

// proc is a started runtime process.
type proc struct {
	pid     int
	exited  chan struct{} // closed once the process is reaped
	state   *os.ProcessState
	waitErr error
}

// spawn starts the runtime from a dedicated OS thread that it then keeps
// until the process exits (without a sandbox; sandboxed runtimes start on a
// sandboxThread the same way). Everything that must hold from the runtime's
// first instruction is set up on that thread and inherited by the fork: the
// v1 cgroups, no_new_privs (and in a sandbox the mount namespace). The child
// stops at exec under ptrace so that its rlimits are set before it runs a
// single instruction; see RATIONALE.md.
func spawn(sp spawnSpec) (*proc, error) {
	p := &proc{exited: make(chan struct{})}
	started := make(chan error, 1)
	goOnOwnThread(func() { p.run(sp, started) })
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// run starts the runtime on this thread (see goOnOwnThread) and waits for it.
func (p *proc) run(sp spawnSpec, started chan<- error) {
	cmd, err := startOnThisThread(sp)
	if err != nil {
		started <- err
		return
	}
	p.pid = cmd.Process.Pid
	started <- nil
	p.wait(cmd, sp)
}

// wait reaps the runtime, then takes this thread out of the environment's
// remaining cgroups so that they can be removed as soon as exited closes.
func (p *proc) wait(cmd *exec.Cmd, sp spawnSpec) {
	p.state, p.waitErr = cmd.Process.Wait()
	_ = joinCgroups(sp.cgExit)
	close(p.exited)
}

func startOnThisThread(sp spawnSpec) (*exec.Cmd, error) {
	if sp.mounts {
		if err := bindCode(sp); err != nil {
			return nil, err
		}
	}
	if err := joinCgroups(sp.cgTasks); err != nil {
		return nil, err
	}
	// no_new_privs is per thread, inherited and irrevocable: setuid binaries
	// in the bundle cannot gain privileges.
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return nil, fmt.Errorf("no_new_privs: %w", e)
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Ptrace: sp.nofile > 0 || sp.nproc > 0}
	if sp.pdeathOK {
		attr.Pdeathsig = syscall.SIGKILL
	}
	if sp.uid >= 0 {
		attr.Credential = &syscall.Credential{Uid: uint32(sp.uid), Gid: uint32(sp.gid), Groups: []uint32{}}
	}
	if sp.cgFD >= 0 {
		attr.UseCgroupFD = true
		attr.CgroupFD = sp.cgFD
	}
	cmd, err := startRetrying(func() *exec.Cmd {
		cmd := exec.Command(sp.argv[0], sp.argv[1:]...)
		cmd.Env = sp.env
		cmd.Dir = sp.dir
		cmd.Stdin = nil
		cmd.Stdout = sp.stdout
		cmd.Stderr = sp.stdout
		cmd.SysProcAttr = attr
		return cmd
	})
	if err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	// Leave the memory cgroup before the runtime runs: with this thread in
	// it, the OOM killer could choose this whole process as its victim.
	if err := joinCgroups(sp.cgLeave); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Wait()
		return nil, err
	}
	if !attr.Ptrace {
		return cmd, nil
	}
	fail := func(err error) (*exec.Cmd, error) {
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Wait()
		return nil, err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return fail(fmt.Errorf("wait for exec stop: %w", err))
	}
	if !ws.Stopped() {
		return fail(fmt.Errorf("runtime did not stop at exec: %v", ws))
	}
	if err := setRlimits(pid, sp); err != nil {
		return fail(err)
	}
	if err := syscall.PtraceDetach(pid); err != nil {
		return fail(fmt.Errorf("ptrace detach: %w", err))
	}
	return cmd, nil
}

// startRetrying starts cmd, trying again while exec fails with ETXTBSY: a
// process forked elsewhere in this program (another environment's start)
// while the code copy was open for writing holds that descriptor until its
// own exec, a known hazard of fork in a threaded program (Go issue 22315).
// It clears within a few milliseconds.
func startRetrying(newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	for i := 0; ; i++ {
		cmd := newCmd() // a Cmd starts once
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || i == 50 {
			return cmd, err
		}
		backoff(i)
	}
}

// joinCgroups moves this thread (only) into the v1 cgroups whose "tasks"
// files are given: what it forks afterwards is born inside them. The
// spawning thread joins the environment's cgroups before the fork, leaves
// the memory one right after it and the pids one once the runtime exited.
func joinCgroups(tasks []string) error {
	for _, t := range tasks {
		if err := os.WriteFile(t, []byte(strconv.Itoa(syscall.Gettid())), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", filepath.Dir(t), err)
		}
	}
	return nil
}

const (
	prSetNoNewPrivs = 38
	rlimitNproc     = 6
)

// setRlimits sets the stopped child's limits. prlimit(2) on another uid's
// process needs CAP_SYS_RESOURCE, which root lacks here; it is also allowed
// when the caller's real uid and gid match the target's, so this thread
// borrows the child's as its real ids (keeping euid 0) and then gives them back.
func setRlimits(pid int, sp spawnSpec) error {
	if sp.uid >= 0 {
		if err := setresid(syscall.SYS_SETRESGID, sp.gid); err != nil {
			return fmt.Errorf("setresgid: %w", err)
		}
		if err := setresid(syscall.SYS_SETRESUID, sp.uid); err != nil {
			return fmt.Errorf("setresuid: %w", err)
		}
		defer func() {
			setresid(syscall.SYS_SETRESUID, 0)
			setresid(syscall.SYS_SETRESGID, 0)
		}()
	}
	if sp.nofile > 0 {
		if err := prlimit(pid, syscall.RLIMIT_NOFILE, sp.nofile); err != nil {
			return fmt.Errorf("RLIMIT_NOFILE: %w", err)
		}
	}
	if sp.nproc > 0 {
		if err := prlimit(pid, rlimitNproc, sp.nproc); err != nil {
			return fmt.Errorf("RLIMIT_NPROC: %w", err)
		}
	}
	return nil
}

// setresid sets only the real id of this thread (raw syscall: Go's
// syscall.Setresuid would change every thread of the process).
func setresid(trap uintptr, id int) error {
	if _, _, e := syscall.RawSyscall(trap, uintptr(id), ^uintptr(0), ^uintptr(0)); e != 0 {
		return e
	}
	return nil
}

func prlimit(pid, resource int, v uint64) error {
	r := syscall.Rlimit{Cur: v, Max: v}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(resource), uintptr(unsafe.Pointer(&r)), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}

// prepareMounts gives this thread a private mount namespace with a fresh
// ext4 image mounted at /tmp. The code comes later (bindCode), from dir,
// which it opens first: the descriptor stays valid under the new /tmp, and
// being opened inside the namespace it can be a bind source there.
func prepareMounts(image, dir string) (dirFD, tmpFD int, err error) {
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		return -1, -1, fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return -1, -1, fmt.Errorf("make mounts private: %w", err)
	}
	dirFD, err = syscall.Open(dir, oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	tmpFD, err = syscall.Open("/tmp", oPath|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		syscall.Close(dirFD)
		return -1, -1, err
	}
	if err := mountTmp(image); err != nil {
		syscall.Close(dirFD)
		syscall.Close(tmpFD)
		return -1, -1, err
	}
	return dirFD, tmpFD, nil
}

func mountTmp(image string) error {
	loop, err := attachLoop(image)
	if err != nil {
		return err
	}
	err = syscall.Mount(loop.Name(), "/tmp", "ext4", syscall.MS_NOSUID|syscall.MS_NODEV, "noinit_itable")
	loop.Close() // from here the mount holds the device; it detaches when the namespace dies
	if err != nil {
		return fmt.Errorf("mount %s (%s) at /tmp: %w", image, loop.Name(), err)
	}
	if err := os.Chmod("/tmp", 0o1777); err != nil {
		return err
	}
	os.Remove("/tmp/lost+found")
	return nil
}

// bindCode binds the environment's code and runtime files read-only at
// fixed paths and gives it /tmp. The sources are reached through a
// descriptor opened before /tmp was replaced: the new /tmp hides whatever
// lived under the old one, Dir included when it is the default.
func bindCode(sp spawnSpec) error {
	ro := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV)
	base := "/proc/thread-self/fd/" + strconv.Itoa(sp.dirFD) + "/"
	task := base + sp.taskRel
	if sp.taskAbs != "" {
		task = sp.taskAbs
		if rel, ok := strings.CutPrefix(task, "/tmp/"); ok { // under the new /tmp now: reach the old one
			task = "/proc/thread-self/fd/" + strconv.Itoa(sp.tmpFD) + "/" + rel
		}
	}
	for _, b := range [][2]string{{task, taskRoot}, {base + sp.rtRel, runtimeDir}} {
		if err := syscall.Mount(b[0], b[1], "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s at %s: %w", b[0], b[1], err)
		}
		if err := syscall.Mount("", b[1], "", ro, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", b[1], err)
		}
	}
	return os.Chown("/tmp", sp.uid, sp.gid)
}

// Loop device ioctls (linux/loop.h).
const (
	loopSetFD       = 0x4C00
	loopSetStatus64 = 0x4C04
	loopCtlGetFree  = 0x4C82
	loFlagsAutoclr  = 4
)

// loopInfo64 is struct loop_info64.
type loopInfo64 struct {
	device, inode, rdevice, offset, sizelimit  uint64
	number, encryptType, encryptKeySize, flags uint32
	fileName, cryptName                        [64]byte
	encryptKey                                 [32]byte
	init                                       [2]uint64
}

// attachLoop binds image to a free loop device that detaches itself once
// its last mount and open file are gone (LO_FLAGS_AUTOCLEAR): the device is
// released when the environment's mount namespace dies. The returned file
// keeps the device attached until it is mounted; close it after.
func attachLoop(image string) (*os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	backing, err := os.OpenFile(image, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer backing.Close()
	for attempt := 0; attempt < 20; attempt++ {
		n, _, e := syscall.Syscall(syscall.SYS_IOCTL, ctl.Fd(), loopCtlGetFree, 0)
		if e != 0 {
			return nil, fmt.Errorf("LOOP_CTL_GET_FREE: %w", e)
		}
		dev := "/dev/loop" + strconv.Itoa(int(n))
		if _, err := os.Stat(dev); os.IsNotExist(err) { // no udev in containers
			if err := syscall.Mknod(dev, syscall.S_IFBLK|0o600, int(7<<8|n&0xff|(n&^0xff)<<12)); err != nil && !os.IsExist(err) {
				return nil, fmt.Errorf("mknod %s: %w", dev, err)
			}
		}
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		_, _, e = syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), loopSetFD, backing.Fd())
		if e == syscall.EBUSY { // another process took it first
			f.Close()
			continue
		}
		if e != 0 {
			f.Close()
			return nil, fmt.Errorf("LOOP_SET_FD %s: %w", dev, e)
		}
		info := loopInfo64{flags: loFlagsAutoclr}
		copy(info.fileName[:], image)
		_, _, e = syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), loopSetStatus64, uintptr(unsafe.Pointer(&info)))
		if e != 0 {
			f.Close()
			return nil, fmt.Errorf("LOOP_SET_STATUS64 %s: %w", dev, e)
		}
		return f, nil
	}
	return nil, errors.New("no free loop device")
}
