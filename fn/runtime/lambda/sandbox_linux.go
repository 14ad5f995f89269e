package lambda

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// A sandboxThread is an OS thread prepared ahead of need: it holds a
// private mount namespace with a fresh /tmp image mounted, and waits to
// spawn one environment's runtime. Making the image, attaching a loop
// device and mounting ext4 take 5-15 ms, more under load; doing it before
// the request keeps it off the cold start. One spare is kept per (Dir,
// TmpMB) and refilled after each use; an unused spare tears itself down
// after spareIdle. See RATIONALE.md.
type sandboxThread struct {
	key   spareKey
	image string
	cg    *cgroups // joined by the thread ahead; limits are set when claimed
	dirFD int
	req   chan spawnReq

	mu      sync.Mutex // guards claimed
	claimed bool       // taken for a request, or torn down
}

type spareKey struct {
	dir   string
	tmpMB int
}

type spawnReq struct {
	sp      spawnSpec
	p       *proc
	started chan<- error
}

const spareIdle = time.Minute

var spares = struct {
	sync.Mutex
	m       map[spareKey]*sandboxThread
	filling map[spareKey]bool
	added   *sync.Cond // broadcast when a spare is ready (tests wait on it)
}{m: map[spareKey]*sandboxThread{}, filling: map[spareKey]bool{}}

func init() { spares.added = sync.NewCond(&spares.Mutex) }

// claimSandbox takes the spare sandbox for key, or makes one now, and
// starts making the next spare.
func claimSandbox(h *host, key spareKey) (*sandboxThread, error) {
	st := takeSpare(key)
	if st == nil {
		var err error
		if st, err = newSandboxThread(h, key); err != nil {
			return nil, err
		}
		st.claimed = true
	}
	go refillSpare(h, key)
	return st, nil
}

// spawn starts the runtime on the sandbox's thread.
func (st *sandboxThread) spawn(sp spawnSpec) (*proc, error) {
	p := &proc{exited: make(chan struct{})}
	started := make(chan error, 1)
	sp.mounts = true
	st.req <- spawnReq{sp: sp, p: p, started: started}
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// release ends a claimed sandbox that will not spawn.
func (st *sandboxThread) release() { close(st.req) }

func takeSpare(key spareKey) *sandboxThread {
	spares.Lock()
	st := spares.m[key]
	delete(spares.m, key)
	spares.Unlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.claimed { // tore itself down
		return nil
	}
	st.claimed = true
	return st
}

func refillSpare(h *host, key spareKey) {
	spares.Lock()
	if spares.m[key] != nil || spares.filling[key] {
		spares.Unlock()
		return
	}
	spares.filling[key] = true
	spares.Unlock()
	st, err := newSandboxThread(h, key)
	spares.Lock()
	delete(spares.filling, key)
	if err == nil {
		spares.m[key] = st
		spares.added.Broadcast()
	}
	spares.Unlock()
	if err == nil {
		time.AfterFunc(spareIdle, st.expire)
	}
}

// newSandboxThread prepares a sandbox and returns once it is ready.
func newSandboxThread(h *host, key spareKey) (*sandboxThread, error) {
	for _, d := range []string{taskRoot, runtimeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil { // mount points on the host; empty there
			return nil, err
		}
	}
	name := newName()
	st := &sandboxThread{key: key, image: filepath.Join(key.dir, name+".tmp.ext4"), req: make(chan spawnReq, 1)}
	if err := images.create(h, key.dir, key.tmpMB, st.image); err != nil {
		return nil, err
	}
	cg, err := newCgroups(h, name)
	st.cg = cg
	if err != nil {
		cg.remove()
		os.Remove(st.image)
		return nil, err
	}
	ready := make(chan error, 1)
	go st.run(ready)
	if err := <-ready; err != nil {
		go cg.remove() // once the failed thread has left them
		os.Remove(st.image)
		return nil, err
	}
	return st, nil
}

// expire tears the spare down unless it was claimed.
func (st *sandboxThread) expire() {
	st.mu.Lock()
	mine := !st.claimed
	st.claimed = true
	st.mu.Unlock()
	if !mine {
		return
	}
	spares.Lock()
	if spares.m[st.key] == st {
		delete(spares.m, st.key)
	}
	spares.Unlock()
	close(st.req)
}

func (st *sandboxThread) run(ready chan<- error) {
	runtime.LockOSThread() // never unlocked once altered: Go ends the thread with this goroutine
	if syscall.Gettid() == syscall.Getpid() {
		runtime.UnlockOSThread() // the main thread is never thrown away, so must not be altered
		go st.run(ready)
		return
	}
	fd, err := prepareMounts(st.image, st.key.dir)
	if err != nil {
		ready <- err
		return
	}
	st.dirFD = fd
	if err := joinCgroups(st.cg.v1Tasks()); err != nil {
		syscall.Close(fd)
		ready <- err
		return
	}
	ready <- nil
	r, ok := <-st.req
	if !ok { // expired or released: the namespace, /tmp and loop device go with this thread
		syscall.Close(st.dirFD)
		os.Remove(st.image)
		go st.cg.remove() // once this thread has left them
		return
	}
	r.sp.dirFD = st.dirFD
	cmd, err := startOnThisThread(r.sp)
	syscall.Close(st.dirFD)
	if err != nil {
		r.started <- err
		return
	}
	r.p.pid = cmd.Process.Pid
	r.started <- nil
	r.p.wait(cmd, r.sp)
}

// oPath is O_PATH (linux/fcntl.h); the syscall package lacks it.
const oPath = 0x200000
