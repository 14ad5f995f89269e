package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Env is one execution environment: a runtime process with its own Runtime
// API endpoint, limits and files. It runs one invocation at a time. Once it
// is dead (see [Env.Err]) it takes no more invocations; it must still be
// closed. An Env is safe for concurrent use.
type Env struct {
	cfg     Config
	h       *host
	name    string // "stoa-<hex>": cgroup, file and log stream name
	dir     string // the environment's own directory (code copy, runtime files)
	image   string // its /tmp image, if any
	lease   *uidLease
	spare   *spareKey      // the spares it keeps in use (useSpares) until closed
	refill  sync.Once      // replaces the spare it took
	sb      *sandboxThread // claimed, until it spawns
	uid     int            // the uid it runs as (-1: ours)
	cg      *cgroups
	ln      net.Listener
	served  chan struct{} // closed when the accept loop returns
	connWG  sync.WaitGroup
	logs    *logPipe
	proc    *proc
	spawned time.Time

	ready      chan struct{} // closed at the runtime's first "next"
	initFailed chan struct{} // closed when the runtime posts /init/error
	closing    chan struct{} // closed by Close: ends waiting "next" requests
	deadCh     chan struct{} // closed when the environment dies
	closeOnce  sync.Once
	closeErr   error

	mu          sync.Mutex
	sawNext     bool
	initDur     time.Duration
	initErr     []byte
	initErrType string
	cur         *invocation
	answeredIDs map[string]bool
	busy        bool
	dead        error
	invokes     int
	parked      int               // runtime requests waiting in "next"
	parkedCond  *sync.Cond        // on mu; broadcast when parked grows
	parkedConns []*apiConn        // their connections, oldest first
	conns       map[*apiConn]bool // open connections; nil once closing
}

// invocation is one event on its way through the Runtime API.
type invocation struct {
	id, arn, traceID, clientContext, cognito, tenantID string
	payload                                            []byte
	deadline                                           time.Time

	done       chan struct{} // closed when answered
	releasedCh chan struct{} // closed when the runtime asks for more work after answering

	// guarded by Env.mu
	delivered, answered, released bool
	body                          []byte
	isErr, tooLarge               bool
	errType                       string
}

// Start creates an environment for cfg and waits until its runtime asks for
// its first invocation (the init phase, at most [InitTimeout]). An init that
// fails returns an error matching [ErrInitFailed] whose Payload is the init
// error body the runtime posted. ctx bounds only the start.
func Start(ctx context.Context, cfg Config) (*Env, error) {
	return startOn(ctx, cfg, probeHost())
}

// startOn is Start on a given host description (tests pass a non-root one).
func startOn(ctx context.Context, cfg Config, h *host) (*Env, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Env{
		cfg:         cfg,
		h:           h,
		name:        newName(),
		uid:         -1,
		conns:       map[*apiConn]bool{},
		ready:       make(chan struct{}),
		initFailed:  make(chan struct{}),
		closing:     make(chan struct{}),
		deadCh:      make(chan struct{}),
		served:      make(chan struct{}),
		answeredIDs: map[string]bool{},
	}
	e.parkedCond = sync.NewCond(&e.mu)
	if err := e.start(); err != nil {
		e.Close()
		return nil, err
	}
	timer := time.NewTimer(InitTimeout)
	defer timer.Stop()
	select {
	case <-e.ready:
		return e, nil
	case <-e.initFailed:
		e.mu.Lock()
		body, typ := e.initErr, e.initErrType
		e.mu.Unlock()
		e.Close()
		if typ == "" {
			typ = ErrInitFailed.Type
		}
		return nil, &Error{Code: CodeInitFailed, Type: typ, Message: messageOf(body), Payload: body}
	case <-e.proc.exited:
		e.Close()
		err := newError(ErrExited, "", "Runtime exited with error: "+e.proc.state.String(), nil)
		err.Code = CodeInitFailed
		return nil, err
	case <-timer.C:
		e.Close()
		err := newError(ErrTimeout, "", fmt.Sprintf("Init timed out after %.2f seconds", InitTimeout.Seconds()), nil)
		err.Code = CodeInitFailed
		return nil, err
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// start lays out the files, limits and endpoint, then spawns the runtime.
func (e *Env) start() error {
	cfg, h := e.cfg, e.h
	sandbox := h.sandboxed()
	if err := os.MkdirAll(cfg.Dir, 0o711); err != nil {
		return err
	}
	sweepOnce(cfg.Dir)
	chown := false
	gid := -1
	if h.root {
		l, err := leaseUID(cfg.UID)
		if err != nil {
			return err
		}
		e.lease, e.uid, gid, chown = l, l.uid, l.uid, true
		os.Chmod(cfg.Dir, 0o711) // others may traverse to their own directory only
	}

	// Code and runtime files, in a 0700 directory the environment's uid owns.
	e.dir = filepath.Join(cfg.Dir, e.name)
	if err := os.Mkdir(e.dir, 0o700); err != nil {
		return err
	}
	if chown {
		if err := os.Chown(e.dir, e.uid, gid); err != nil {
			return err
		}
	}
	taskDir := filepath.Join(e.dir, "task")
	shared := ""
	if sandbox {
		shared, _ = sharedBundle(cfg.Bundle)
	}
	if shared == "" {
		if err := copyTree(cfg.Bundle, taskDir, e.uid, gid, chown); err != nil {
			return fmt.Errorf("lambda: copy bundle: %w", err)
		}
	}
	rtDir := filepath.Join(e.dir, "runtime")
	if err := os.Mkdir(rtDir, 0o755); err != nil {
		return err
	}
	var argv []string
	taskRootSeen, rtSeen := taskDir, rtDir
	if sandbox {
		taskRootSeen, rtSeen = taskRoot, runtimeDir
	}
	switch cfg.Runtime {
	case RuntimeNode:
		node, err := exec.LookPath("node")
		if err != nil {
			return fmt.Errorf("lambda: node runtime: %w", err)
		}
		if err := os.WriteFile(filepath.Join(rtDir, "bootstrap.cjs"), nodeBootstrap, 0o644); err != nil {
			return err
		}
		argv = []string{node, filepath.Join(rtSeen, "bootstrap.cjs")}
	default:
		argv = []string{filepath.Join(taskRootSeen, "bootstrap")}
	}
	if chown {
		os.Chown(rtDir, e.uid, gid)
		os.Chown(filepath.Join(rtDir, "bootstrap.cjs"), e.uid, gid)
	}

	sp := spawnSpec{argv: argv, dir: taskRootSeen, uid: e.uid, gid: gid, cgFD: -1, nofile: MaxFiles, pdeathOK: true}
	if sandbox {
		sp.taskRel, sp.rtRel, sp.taskAbs = filepath.Join(e.name, "task"), filepath.Join(e.name, "runtime"), shared
		key := spareKey{cfg.Dir, cfg.TmpMB}
		useSpares(key)
		e.spare = &key
		sb, err := claimSandbox(h, key)
		if err != nil {
			return fmt.Errorf("lambda: sandbox: %w", err)
		}
		e.sb, e.cg, e.image = sb, sb.cg, sb.image
	} else if h.root {
		cg, err := newCgroups(h, e.name)
		e.cg = cg
		if err != nil {
			return fmt.Errorf("lambda: cgroups: %w", err)
		}
		sp.cgTasks = cg.v1Tasks()
	}
	if e.cg != nil {
		sp.nproc = MaxProcs // per uid: only meaningful with a uid of its own
		// +1: the thread that spawned the runtime waits inside the cgroup.
		if err := e.cg.limit(int64(cfg.MemoryMB)<<20, MaxProcs+1); err != nil {
			return fmt.Errorf("lambda: cgroup limits: %w", err)
		}
		sp.cgFD = e.cg.cloneFD()
		sp.cgLeave = e.cg.v1Leave()
		sp.cgExit = e.cg.v1Exit()
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if e.uid >= 0 && e.uid != os.Getuid() {
		ln = &peerListener{Listener: ln, uid: uint32(e.uid)}
	}
	e.ln = ln
	go e.serve(ln)

	if e.logs, err = newLogPipe(cfg.Log, e.MaxMemoryMB); err != nil {
		return err
	}
	sp.stdout = e.logs.w
	sp.env = e.environ(ln.Addr().String(), taskRootSeen, rtSeen)
	e.mu.Lock() // serveNext reads it; the runtime is another process, no happens-before
	e.spawned = time.Now()
	e.mu.Unlock()
	if e.sb != nil {
		e.proc, err = e.sb.spawn(sp)
		e.sb = nil // spawned or failed, the thread is gone
	} else {
		e.proc, err = spawn(sp)
	}
	if err != nil {
		return fmt.Errorf("lambda: start runtime: %w", err)
	}
	go func() {
		<-e.proc.exited
		e.discard(fmt.Errorf("runtime exited: %s", e.proc.state))
	}()
	return nil
}

// environ is the runtime's whole environment: never the host's.
func (e *Env) environ(api, taskRoot, rtDir string) []string {
	cfg := e.cfg
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api,
		"_HANDLER=" + cfg.Handler,
		"AWS_LAMBDA_FUNCTION_NAME=" + cfg.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=" + cfg.FunctionVersion,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(cfg.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + cfg.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[" + cfg.FunctionVersion + "]" + e.name,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + cfg.Region,
		"AWS_DEFAULT_REGION=" + cfg.Region,
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=" + rtDir,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
	}
	if cfg.Runtime == RuntimeNode {
		env = append(env, "AWS_EXECUTION_ENV=AWS_Lambda_nodejs")
	}
	own := make([]string, 0, len(cfg.Env))
	for k, v := range cfg.Env {
		own = append(own, k+"="+v)
	}
	sort.Strings(own)
	return append(env, own...)
}

// Invoke runs one invocation and waits for its answer.
//
// A function that answers, or fails the way Lambda reports as a function
// error (it posted to /error), gives a Result and a nil error; the
// environment stays warm. Otherwise the error is an *Error: a payload over
// the request cap ([ErrRequestTooLarge]) or an environment that cannot take
// it ([ErrEnvDead], [ErrEnvBusy]) leave no trace in the function, and the
// Result is nil. A timeout, an exit or crash, running out of memory, an
// oversized response or the end of ctx discard the environment; the Result
// is then also set, holding what Lambda would answer the invoker
// (FunctionError "Unhandled", the error body in Payload).
func (e *Env) Invoke(ctx context.Context, payload []byte, opts InvokeOpts) (*Result, error) {
	id := opts.RequestID
	if id == "" {
		id = newUUID()
	}
	if len(payload) > e.cfg.MaxRequestBytes {
		return nil, newError(ErrRequestTooLarge, id, fmt.Sprintf("request payload of %d bytes is over the limit of %d bytes", len(payload), e.cfg.MaxRequestBytes), nil)
	}
	if strings.ContainsAny(id, "/?#%\r\n") {
		return nil, fmt.Errorf("lambda: request id %q: must not contain / ? # %% or line breaks", id)
	}
	arn := opts.FunctionARN
	if arn == "" {
		arn = "arn:aws:lambda:" + e.cfg.Region + ":000000000000:function:" + e.cfg.FunctionName
	}
	trace := opts.TraceID
	if trace == "" {
		trace = newTraceID()
	}

	e.mu.Lock()
	if e.dead != nil {
		dead := e.dead
		e.mu.Unlock()
		return nil, newError(ErrEnvDead, id, "environment is dead: "+dead.Error(), dead)
	}
	if e.busy {
		e.mu.Unlock()
		return nil, newError(ErrEnvBusy, id, "an invocation is already running in this environment", nil)
	}
	e.busy = true
	cold := e.invokes == 0
	e.invokes++
	initDur := e.initDur
	start := time.Now()
	inv := &invocation{
		id: id, arn: arn, traceID: trace, clientContext: opts.ClientContext, cognito: opts.CognitoIdentity,
		tenantID: opts.TenantID, payload: payload, deadline: start.Add(e.cfg.Timeout),
		done: make(chan struct{}), releasedCh: make(chan struct{}),
	}
	e.cur = inv
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.busy = false
		e.mu.Unlock()
	}()

	e.logs.mark("START RequestId: " + id + " Version: " + e.cfg.FunctionVersion)
	e.offer() // onto the runtime's waiting "next", or for its next one
	timer := time.NewTimer(e.cfg.Timeout)
	defer timer.Stop()

	res := &Result{RequestID: id, Cold: cold}
	if cold {
		res.InitDuration = initDur
	}
	var ferr *Error
	select {
	case <-inv.done:
	case <-e.proc.exited:
	case <-timer.C:
		msg := timeoutMessage(e.cfg.Timeout.Seconds())
		ferr = newError(ErrTimeout, id, msg, nil)
		e.logs.mark(time.Now().UTC().Format(time.RFC3339Nano) + " " + id + " " + msg)
		e.discard(ferr)
	case <-ctx.Done():
		ferr = newError(ErrCanceled, id, "invocation canceled: "+ctx.Err().Error(), ctx.Err())
		e.discard(ferr)
	}
	res.Duration = time.Since(start)
	if ferr == nil {
		select {
		case <-inv.done: // answered, even if the runtime exited right after
			ferr = e.answered(ctx, inv, res, timer)
		default: // exited without answering
			ferr = e.exitError(id)
			e.logs.mark(ferr.Message)
			e.discard(ferr)
		}
	}
	if ferr != nil {
		if res.Payload == nil {
			res.Payload = ferr.Payload
		}
		res.FunctionError = "Unhandled"
		if res.ErrorType == "" {
			res.ErrorType = ferr.Type
		}
	}
	// END and REPORT in one write; the log goroutine adds Max Memory Used,
	// keeping the cgroup read off the invocation's path.
	e.logs.mark("END RequestId: "+id, reportLine(id, res, e.cfg.MemoryMB))
	if cold {
		e.replaceSpare()
	}
	if ferr != nil {
		return res, ferr
	}
	return res, nil
}

// answered fills res from the runtime's answer to inv.
func (e *Env) answered(ctx context.Context, inv *invocation, res *Result, timer *time.Timer) *Error {
	e.mu.Lock()
	body, isErr, errType, tooLarge := inv.body, inv.isErr, inv.errType, inv.tooLarge
	e.mu.Unlock()
	switch {
	case tooLarge:
		ferr := newError(ErrResponseTooLarge, inv.id, fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", e.cfg.MaxResponseBytes), nil)
		e.discard(ferr)
		return ferr
	case isErr:
		res.Payload, res.FunctionError, res.ErrorType = body, "Unhandled", errType
		// A runtime may post an error and exit (aws-lambda-go after a panic):
		// wait until it asks for more work or exits, to know which.
		select {
		case <-inv.releasedCh:
		case <-e.proc.exited:
			select {
			case <-inv.releasedCh:
				return nil
			default:
			}
			ferr := e.exitError(inv.id)
			ferr.Payload = body // the caller gets the error it posted first
			e.discard(ferr)
			return ferr
		case <-timer.C:
		case <-ctx.Done():
		}
		return nil
	}
	res.Payload = body
	return nil
}

// replaceSpare starts making a spare sandbox in place of the one this
// environment took, once: after its first invocation (or at Close, if it
// had none), so that making it (image copy, loop mount, cgroup moves) does
// not compete for the CPU with the cold start it is meant to speed up.
func (e *Env) replaceSpare() {
	if e.spare != nil {
		e.refill.Do(func() { startRefill(e.h, *e.spare) })
	}
}

// exitError describes a runtime that exited during an invocation.
func (e *Env) exitError(id string) *Error {
	<-e.proc.exited
	desc := e.proc.state.String() // "exit status 1", "signal: killed"
	select {
	case <-e.closing:
		desc += " (the environment was closed)"
	default:
	}
	if e.cg != nil && e.cg.oomKilled() {
		return newError(ErrOutOfMemory, id, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s (out of memory: over %d MB)", id, desc, e.cfg.MemoryMB), nil)
	}
	return newError(ErrExited, id, fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", id, desc), nil)
}

// reportLine is Lambda's REPORT line up to "Max Memory Used: ", which the
// log goroutine completes (see logPipe.mark).
func reportLine(id string, r *Result, memMB int) string {
	b := make([]byte, 0, 200)
	b = append(b, "REPORT RequestId: "...)
	b = append(b, id...)
	b = append(b, '\t')
	if r.Cold {
		b = append(b, "Init Duration: "...)
		b = strconv.AppendFloat(b, ms(r.InitDuration), 'f', 2, 64)
		b = append(b, " ms\t"...)
	}
	b = append(b, "Duration: "...)
	b = strconv.AppendFloat(b, ms(r.Duration), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, int64(math.Ceil(ms(r.Duration))), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(memMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	return string(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MaxMemoryMB is the environment's peak memory use so far (Lambda's "Max
// Memory Used"): its cgroup's, or without one the runtime process's own
// high-water mark while it runs.
func (e *Env) MaxMemoryMB() int {
	var peak int64
	if e.cg != nil {
		peak = e.cg.peak()
	}
	if peak == 0 && e.proc != nil {
		peak = fieldOf("/proc/"+strconv.Itoa(e.proc.pid)+"/status", "VmHWM:") << 10
	}
	// The kernel charges in batches and may pass the limit by a few pages
	// before it kills; Lambda never reports more than the memory size.
	return min(int((peak+1<<20-1)>>20), e.cfg.MemoryMB)
}

// discard marks the environment dead for reason and kills every process in it.
func (e *Env) discard(reason error) {
	e.mu.Lock()
	first := e.dead == nil
	if first {
		e.dead = reason
		close(e.deadCh)
	}
	e.mu.Unlock()
	if e.proc != nil && e.proc.pid > 0 {
		syscall.Kill(-e.proc.pid, syscall.SIGKILL)
		syscall.Kill(e.proc.pid, syscall.SIGKILL)
	}
	if e.cg != nil {
		e.cg.kill()
	}
}

// Err returns nil while the environment can take invocations, and
// otherwise why it cannot (timed out, exited, out of memory, closed).
func (e *Env) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dead
}

// Done is closed when the environment dies.
func (e *Env) Done() <-chan struct{} { return e.deadCh }

// Stats counts an environment's invocations.
type Stats struct {
	Invocations int // all invocations begun
	ColdStarts  int // 1 once the first invocation (which paid the init) began
	WarmStarts  int // invocations that found the environment warm
}

// Stats returns the environment's counts so far.
func (e *Env) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Invocations: e.invokes}
	if e.invokes > 0 {
		s.ColdStarts, s.WarmStarts = 1, e.invokes-1
	}
	return s
}

// InitDuration is the time from spawning the runtime to its first request
// for an invocation.
func (e *Env) InitDuration() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.initDur
}

// Close kills the environment's processes and removes everything it
// created: cgroups, files, /tmp, endpoint, uid lease. Logs written before
// are delivered before Close returns. Close is idempotent; it returns the
// first call's error.
func (e *Env) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.close() })
	return e.closeErr
}

func (e *Env) close() error {
	var errs []error
	e.discard(errors.New("closed"))
	close(e.closing)
	if e.sb != nil {
		e.sb.release()
	}
	defer func() {
		if e.spare != nil {
			e.replaceSpare()
			unuseSpares(*e.spare) // the last one out tears the spare down, and waits
		}
	}()
	if e.proc != nil {
		<-e.proc.exited
	}
	if e.ln != nil {
		e.ln.Close()
		<-e.served
	}
	e.closeConns()
	if e.logs != nil {
		e.logs.close(time.Second)
	}
	if e.cg != nil {
		if err := e.cg.remove(); err != nil {
			errs = append(errs, fmt.Errorf("lambda: remove cgroups: %w", err))
		}
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if e.image != "" {
		os.Remove(e.image)
	}
	e.lease.release()
	return errors.Join(errs...)
}

// messageOf is the errorMessage of a JSON error body, or the body itself.
func messageOf(body []byte) string {
	var v struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &v) == nil && v.Message != "" {
		return v.Message
	}
	if len(body) > 512 {
		body = body[:512]
	}
	return string(body)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randHex(12), randHex(8))
}
