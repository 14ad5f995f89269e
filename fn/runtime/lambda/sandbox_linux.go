package lambda

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// A sandboxThread is an OS thread prepared ahead of need: it holds a
// private mount namespace with a fresh /tmp image mounted, and waits to
// spawn one environment's runtime. Making the image, attaching a loop
// device and mounting ext4 take 5-15 ms, more under load; doing it before
// the request keeps it off the cold start. One spare is kept per (Dir,
// TmpMB) while an environment of that key is open or a [HoldSpare] holds
// it; it is made in the background once a start no longer needs the CPU,
// and torn down after spareIdle unused, or when its last holder lets go
// (which waits for it). See RATIONALE.md.
type sandboxThread struct {
	key   spareKey
	image string
	cg    *cgroups // joined by the thread ahead; limits are set when claimed
	dirFD int
	tmpFD int
	req   chan spawnReq
	gone  chan struct{} // closed once an unclaimed thread has cleaned up
	timer *time.Timer   // the idle expiry, while spare

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
	users   map[spareKey]int  // open environments and holds per key
	awaited map[spareKey]bool // a claim waits for the fill under way
	changed *sync.Cond        // broadcast when a spare is ready or a fill ends
}{m: map[spareKey]*sandboxThread{}, filling: map[spareKey]bool{}, users: map[spareKey]int{}, awaited: map[spareKey]bool{}}

func init() { spares.changed = sync.NewCond(&spares.Mutex) }

// HoldSpare keeps a prepared sandbox ready for the next environment with
// these Dir and TmpMB ("" and 0 mean the defaults) until release is
// called, even while none is open, so that a start from zero finds one;
// the first hold prepares it in the background. release tears the spare
// down once nothing else holds it, and waits for that. Without root, a
// mount namespace, loop devices and mkfs.ext4 (see [HostLimits]) there is
// nothing to prepare and HoldSpare does nothing.
func HoldSpare(dir string, tmpMB int) (release func()) {
	h := probeHost()
	if !h.sandboxed() {
		return func() {}
	}
	cfg := Config{Dir: dir, TmpMB: tmpMB}
	cfg.setDefaultPaths()
	key := spareKey{cfg.Dir, cfg.TmpMB}
	useSpares(key)
	startRefill(h, key)
	var once sync.Once
	return func() { once.Do(func() { unuseSpares(key) }) }
}

// useSpares counts one more holder of key's spare.
func useSpares(key spareKey) {
	spares.Lock()
	spares.users[key]++
	spares.Unlock()
}

// unuseSpares counts one holder less; the last one tears the spare down,
// after any fill under way, and waits until it is gone.
func unuseSpares(key spareKey) {
	spares.Lock()
	spares.users[key]--
	if spares.users[key] > 0 {
		spares.Unlock()
		return
	}
	delete(spares.users, key)
	for spares.filling[key] {
		spares.changed.Wait() // the fill sees no users and tears down what it made
	}
	st := spares.m[key]
	delete(spares.m, key)
	spares.Unlock()
	if st != nil && st.retire() {
		<-st.gone
	}
}

// claimSandbox takes the spare sandbox for key, or makes one now. The
// caller counts as a user of key (useSpares) and refills it later.
func claimSandbox(h *host, key spareKey) (*sandboxThread, error) {
	if st := takeSpare(key); st != nil {
		return st, nil
	}
	// A spare being made started before this claim: it is ready sooner
	// than one made from scratch. One claimant waits for it; others make
	// their own.
	spares.Lock()
	if spares.filling[key] && !spares.awaited[key] {
		spares.awaited[key] = true
		for spares.filling[key] {
			spares.changed.Wait()
		}
		delete(spares.awaited, key)
		spares.Unlock()
		if st := takeSpare(key); st != nil {
			return st, nil
		}
	} else {
		spares.Unlock()
	}
	st, err := newSandboxThread(h, key)
	if err != nil {
		return nil, err
	}
	st.claimed = true
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

// release ends a claimed sandbox that will not spawn, and waits for it.
func (st *sandboxThread) release() {
	close(st.req)
	<-st.gone
}

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
	if st.timer != nil {
		st.timer.Stop()
	}
	return st
}

// startRefill makes key's spare in the background if it has users and
// none is there or being made. The last unuseSpares waits for it.
func startRefill(h *host, key spareKey) {
	spares.Lock()
	defer spares.Unlock()
	if spares.m[key] != nil || spares.filling[key] || spares.users[key] == 0 {
		return
	}
	spares.filling[key] = true
	go fillSpare(h, key)
}

// fillSpare makes key's spare; spares.filling[key] is set.
func fillSpare(h *host, key spareKey) {
	st, err := newSandboxThread(h, key)
	spares.Lock()
	if err == nil && spares.users[key] > 0 && spares.m[key] == nil {
		spares.m[key] = st
		st.timer = time.AfterFunc(spareIdle, st.expire)
		st = nil
	}
	spares.Unlock()
	if err == nil && st != nil && st.retire() { // nobody wants it any more
		<-st.gone
	}
	spares.Lock()
	delete(spares.filling, key)
	spares.changed.Broadcast()
	spares.Unlock()
}

// retire tears the thread down unless it was claimed; it reports whether
// it did (the caller may then wait on gone).
func (st *sandboxThread) retire() bool {
	st.mu.Lock()
	mine := !st.claimed
	st.claimed = true
	if st.timer != nil {
		st.timer.Stop()
	}
	st.mu.Unlock()
	if mine {
		close(st.req)
	}
	return mine
}

// newSandboxThread prepares a sandbox and returns once it is ready.
func newSandboxThread(h *host, key spareKey) (*sandboxThread, error) {
	for _, d := range []string{taskRoot, runtimeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil { // mount points on the host; empty there
			return nil, err
		}
	}
	name := newName()
	st := &sandboxThread{key: key, image: filepath.Join(key.dir, name+".tmp.ext4"), req: make(chan spawnReq, 1), gone: make(chan struct{})}
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
	goOnOwnThread(func() { st.run(ready) })
	if err := <-ready; err != nil {
		go cg.remove() // once the failed thread has left them
		os.Remove(st.image)
		return nil, err
	}
	return st, nil
}

// expire tears the spare down after spareIdle unused.
func (st *sandboxThread) expire() {
	spares.Lock()
	if spares.m[st.key] == st {
		delete(spares.m, st.key)
	}
	spares.Unlock()
	st.retire()
}

// run alters this thread (see goOnOwnThread) into the sandbox and waits for
// a claim.
func (st *sandboxThread) run(ready chan<- error) {
	fd, tmpFD, err := prepareMounts(st.image, st.key.dir)
	if err != nil {
		close(st.gone)
		ready <- err
		return
	}
	st.dirFD, st.tmpFD = fd, tmpFD
	if err := joinCgroups(st.cg.v1Tasks()); err != nil {
		syscall.Close(fd)
		syscall.Close(tmpFD)
		close(st.gone)
		ready <- err
		return
	}
	ready <- nil
	r, ok := <-st.req
	if !ok { // expired or released: the namespace, /tmp and loop device go with this thread
		syscall.Close(st.dirFD)
		syscall.Close(st.tmpFD)
		os.Remove(st.image)
		_ = joinCgroups(append(st.cg.v1Leave(), st.cg.v1Exit()...)) // leave them, to remove them now
		st.cg.remove()
		close(st.gone)
		return
	}
	close(st.gone) // claimed: what is left belongs to the environment
	r.sp.dirFD, r.sp.tmpFD = st.dirFD, st.tmpFD
	cmd, err := startOnThisThread(r.sp)
	syscall.Close(st.dirFD)
	syscall.Close(st.tmpFD)
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
