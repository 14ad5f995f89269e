package lambda

import (
	"runtime"
	"syscall"
)

// goOnOwnThread runs f on a new goroutine locked to an OS thread other
// than the main one, and never unlocked: f may alter its thread (mount
// namespace, cgroups, no_new_privs) because Go ends the thread with the
// goroutine. The main thread is never ended, so it must not be altered; a
// goroutine that lands there holds it until f's goroutine has a thread of
// its own, so that even with one P (GOMAXPROCS=1) f cannot land there too.
func goOnOwnThread(f func()) {
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() != syscall.Getpid() {
			f()
			return
		}
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			f()
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}
