package procman

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/filewatch"
)

// Spec is what the master needs to run its workers.
type Spec struct {
	Processes int        // >= 1
	Listeners []*os.File // opened by the master; inherited by every worker in this order (fds 3, 4, ...)
	// SocketProtos names each listener's protocol for the stats ("http", "uwsgi").
	SocketProtos []string
	Harakiri     time.Duration // 0: off
	Argv         []string      // argv to re-exec (normally os.Args); the binary is os.Executable(). nil: os.Args
	Logger       *log.Logger   // nil: stderr, no prefix, no timestamps (as uWSGI)
	Env          []string      // extra env for workers (may be nil)

	// StopTimeout is how long a stop (SIGINT, SIGQUIT, SIGTERM) waits for
	// the workers to leave before it SIGKILLs them. 0: 5 seconds.
	StopTimeout time.Duration
	// ReloadMercy is how long a graceful reload (SIGHUP) waits for a
	// worker to finish its requests before it SIGKILLs it (uWSGI's
	// --worker-reload-mercy). 0: 60 seconds.
	ReloadMercy time.Duration

	// MaxWorkerLifetime reloads a worker gracefully once it has lived
	// this long (uWSGI's --max-worker-lifetime). 0: never.
	MaxWorkerLifetime time.Duration
	// HarakiriVerbose logs what a worker killed by harakiri was doing in
	// the kernel (its /proc syscall and wchan), as uWSGI's
	// --harakiri-verbose does.
	HarakiriVerbose bool
	// Names are the process names ps shows (off when not Enabled).
	Names Names
	// GracefulTerm makes SIGTERM a graceful stop (uWSGI's
	// hook-master-start = unix_signal:15 gracefully_kill_them_all):
	// the workers get SIGTERM and ReloadMercy to finish their requests.
	GracefulTerm bool
	// Signals, when set, is a channel the caller has already subscribed
	// (signal.Notify) to SIGINT, SIGQUIT, SIGTERM and SIGHUP, so that a
	// signal that arrives while the master starts is not lost.
	Signals chan os.Signal
	// ReqLog, when set, is inherited by every worker for its request
	// lines (a req-logger file the master opened before it dropped
	// privileges); see Worker.ReqLog.
	ReqLog *os.File

	// Stats, if set, is the address (host:port, or a unix socket path)
	// where the master serves uWSGI's stats JSON; StatsHTTP serves it
	// over HTTP. Apps (mount points) and Cores size the counters.
	Stats     net.Listener // from ListenStats; closed by RunMaster
	StatsHTTP bool
	Apps      []string
	Cores     int
	Version   string // for the stats JSON

	// TouchReload: files whose modification (or touch) reloads the
	// workers gracefully, as SIGHUP does (uWSGI's --touch-reload).
	TouchReload []string

	// NeedApp: a worker that exits with ExitNoApp stops the whole
	// instance, and RunMaster returns ExitNoApp (uWSGI's --need-app).
	NeedApp bool

	// Extras run beside the workers (the spooler, the mules); see Extra.
	Extras []Extra
	// ExtraStarted, when set, is told each time extra i (an index into
	// Extras) gets a new pid, and with pid 0 when it leaves.
	ExtraStarted func(i, pid int)
	// SpoolerState, when set, says what spooler extra i is doing (for
	// the stats server and --spooler-harakiri).
	SpoolerState func(i int) SpoolerState
	// Inherit are more files every worker and extra inherits, after the
	// listeners, the heartbeat area and the request log; EnvInheritFDs
	// names their fds.
	Inherit []*os.File

	// Shared files are inherited by every worker and extra after all the
	// others, each named in its environment by its Env (Env=fd): the
	// shared memory of the locks and caches is one.
	Shared []SharedFile
}

// SpoolerState is what a spooler process tells the master.
type SpoolerState struct {
	Tasks   uint64 // tasks run since it started
	Running bool   // a task runs now
	// the task's --spooler-harakiri deadline: CLOCK_MONOTONIC seconds, 0
	// for none; the master kills the spooler once it has passed
	HarakiriAt int64
}

// SharedFile is a file every worker and extra inherits, its fd named by Env.
type SharedFile struct {
	Env  string
	File *os.File
}

// Respawn policy.
const (
	// A worker that dies (not ExitReload, not harakiri) before living this
	// long counts as dying at start; consecutive ones back off. A worker
	// that lives this long resets its slot's back-off.
	healthyLife = time.Second
	// Back-off after the n-th consecutive death at start:
	// backoffFirst << (n-1), at most backoffMax.
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 5 * time.Second
	// Even ExitReload never respawns a slot more often than this.
	minRespawnInterval = 100 * time.Millisecond
	// A worker that leaves the way a stop request makes it leave (exit 0,
	// or killed by SIGINT/SIGTERM/SIGQUIT) is respawned only after this
	// grace, and its death is logged only then: when Ctrl-C sends SIGINT to
	// the whole process group, the master's own SIGINT arrives in the
	// meantime and nothing is respawned or reported as a crash.
	stopGrace = 300 * time.Millisecond
)

// backoff is the delay before respawning after the n-th consecutive death
// at start (n >= 1).
func backoff(n int) time.Duration {
	d := backoffFirst
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

type slot struct {
	id          int
	cmd         *exec.Cmd
	pid         int
	alive       bool
	started     time.Time
	quickDeaths int // consecutive deaths at start

	respawnAt  time.Time // pending respawn; zero: none
	pendingLog string    // death not yet reported (see stopGrace)

	reloading    bool      // SIGHUP sent (a reload, or its lifetime ran out)
	mercyAt      time.Time // reload: SIGKILL after this
	mercyKilled  bool
	harakiriKill bool // killed by harakiri

	respawns, harakiris int    // for the stats
	lastRequests        uint64 // at the last stats read (delta_requests)

	extra      *Extra // nil: a worker
	extraIndex int    // into Spec.Extras

	channel *peer // the process's channel to the master (signals)
}

type exitEvent struct {
	id  int
	pid int
	ws  syscall.WaitStatus
	err error // Wait failed (should not happen)
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

type master struct {
	spec  Spec
	log   *log.Logger
	exe   string
	argv  []string
	clock monoClock
	hb    *hbArea // nil: harakiri and stats off
	stats *statsServer
	// router routes uWSGI signals between the processes (signals.go)
	router *router

	listeners []*os.File // spec.Listeners as handed to workers (see inheritable)

	reloaded bool // a SIGHUP came: workers started since see uwsgi.is_a_reload

	nextUserHarakiri time.Time // when tick next reads the set_user_harakiri deadlines

	slots  []*slot // index 0 unused
	alive  int
	exitCh chan exitEvent
	sigCh  chan os.Signal
	spawn  chan spawnReq

	harakiriEvery time.Duration
	nextHarakiri  time.Time

	stopping   bool
	stopSig    syscall.Signal // what the workers were sent
	stopSince  time.Time
	stopKillAt time.Time // zero once the stragglers were SIGKILLed
	exitCode   int       // what RunMaster returns after the stop
}

// RunMaster starts the workers and supervises them until it is told to
// stop; it returns the process exit code (0 after a stop; 1 when it cannot
// start at all).
//
// The master holds no interpreter and never forks: each worker is this
// binary (os.Executable()) run again with spec.Argv, the listeners on
// fds 3, 4, ... and the UWSGO_* variables (see CurrentWorker). Each is
// started with Pdeathsig=SIGKILL from one locked OS thread that lives as
// long as the master, so no worker outlives a master that is SIGKILLed.
// os.Executable drops Linux's " (deleted)" suffix, so after the binary is
// rebuilt in place, respawned workers (a SIGHUP reload) run the new one.
//
// Signals:
//
//   - SIGINT, SIGQUIT: stop. Every worker gets SIGINT; those still alive
//     after StopTimeout get SIGKILL; RunMaster returns 0 after "goodbye to
//     uwsgo.". Nothing is respawned once a stop began. A second stop signal
//     while stopping SIGKILLs the workers at once (Ctrl-C twice).
//   - SIGTERM: stop, exactly like SIGINT. uWSGI 2.0 makes SIGTERM a brutal
//     reload (unless --die-on-term); uwsgo is a development server run by
//     terminals, docker and systemd, all of which mean "stop" by SIGTERM,
//     so it stops.
//   - SIGHUP: graceful reload. Every worker gets SIGHUP, finishes its
//     requests and exits with ExitReload; each is respawned (re-importing
//     the app) as soon as it leaves. A worker still there after ReloadMercy
//     gets SIGKILL. Slots waiting out a back-off are respawned at once.
//     The listening sockets stay open in the master throughout: clients
//     queue in the backlog, nobody sees "connection refused".
//
// A worker that dies otherwise is logged with the cause and respawned;
// one that keeps dying less than a second after its start is respawned
// with exponential back-off (0.1 s doubling to 5 s). With Harakiri set, a
// worker whose last heartbeat said busy and is older than Harakiri is
// SIGKILLed and respawned.
func RunMaster(spec Spec) int {
	m, err := newMaster(spec)
	if err != nil {
		m.log.Printf("uwsgo master: %v", err)
		return 1
	}
	defer m.close()
	return m.run()
}

func newMaster(spec Spec) (*master, error) {
	m := &master{spec: spec, log: spec.Logger, clock: newMonoClock()}
	if m.log == nil {
		m.log = log.New(os.Stderr, "", 0)
	}
	if spec.Processes < 1 {
		return m, fmt.Errorf("processes must be >= 1, not %d", spec.Processes)
	}
	if spec.Harakiri < 0 {
		return m, fmt.Errorf("harakiri must be >= 0, not %v", spec.Harakiri)
	}
	if m.spec.StopTimeout <= 0 {
		m.spec.StopTimeout = 5 * time.Second
	}
	if m.spec.ReloadMercy <= 0 {
		m.spec.ReloadMercy = 60 * time.Second
	}
	m.argv = spec.Argv
	if len(m.argv) == 0 {
		m.argv = os.Args
	}
	exe, err := os.Executable()
	if err != nil {
		return m, fmt.Errorf("cannot find my own binary to start workers: %w", err)
	}
	m.exe = exe
	if m.listeners, err = inheritable(spec.Listeners); err != nil {
		return m, err
	}
	// The originals are pollable files, in this process's epoll set
	// edge-triggered: left open, every connection that reaches a shared
	// listener would wake the master, which never accepts (half a wake-up
	// per request behind nginx). The duplicates keep the sockets.
	for _, f := range spec.Listeners {
		f.Close()
	}
	// always: besides harakiri and the stats server, the uwsgi module's
	// workers(), total_requests() and set_user_harakiri() read it
	if m.hb, err = newHBAreaLayout(spec.Processes, hbLayout{apps: len(spec.Apps), cores: spec.Cores}); err != nil {
		return m, err
	}
	if spec.Harakiri > 0 {
		// Check often enough that a kill comes at most a quarter late.
		m.harakiriEvery = min(max(spec.Harakiri/4, 100*time.Millisecond), time.Second)
	}
	m.slots = make([]*slot, spec.Processes+len(spec.Extras)+1)
	for i := 1; i <= spec.Processes; i++ {
		m.slots[i] = &slot{id: i}
	}
	for i := range spec.Extras {
		m.slots[spec.Processes+1+i] = &slot{id: spec.Processes + 1 + i, extra: &spec.Extras[i], extraIndex: i}
	}
	m.exitCh = make(chan exitEvent, len(m.slots))
	m.sigCh = spec.Signals
	if m.sigCh == nil {
		m.sigCh = make(chan os.Signal, 8)
		signal.Notify(m.sigCh, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	}
	m.spawn = make(chan spawnReq)
	go spawner(m.spawn)
	if spec.Stats != nil {
		m.stats = newStatsServer(spec.Stats, spec.StatsHTTP, m.log)
	}
	m.router = newRouter(m.log, spec.Processes)
	go m.router.run()
	return m, nil
}

// acceptTimeout bounds an accept(2) that finds a listening socket in
// blocking mode (SO_RCVTIMEO); see inheritable.
const acceptTimeout = 50 * time.Millisecond

// inheritable returns, for each listener, a duplicate that os/exec can
// hand to every worker without touching the socket's blocking mode.
//
// O_NONBLOCK belongs to the open file description, which the master and
// all its workers share. An *os.File made from a non-blocking socket (what
// net.TCPListener.File returns) is "pollable", and its Fd method, which
// os/exec calls at every spawn, switches the description to blocking mode:
// from then on a running worker's accept4 blocks in the kernel instead of
// returning EAGAIN to Go's poller, and its graceful stop (closing the
// listener) hangs until some client happens to connect. The duplicates
// made here are created while the description is blocking, so they are
// plain files whose Fd leaves it alone; then the original mode is put back.
//
// A worker still turns the description blocking for a few microseconds
// when it starts (net.FileListener calls Fd before it sets O_NONBLOCK
// again): SO_RCVTIMEO on the socket makes an accept4 that meets that
// window return EAGAIN after acceptTimeout rather than sleep until the
// next connection.
func inheritable(files []*os.File) ([]*os.File, error) {
	out := make([]*os.File, 0, len(files))
	fail := func(err error) ([]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	for i, f := range files {
		sc, err := f.SyscallConn()
		if err != nil {
			return fail(fmt.Errorf("listener %d: %w", i, err))
		}
		var orig int
		var cerr error
		if err := sc.Control(func(fd uintptr) {
			orig, cerr = fcntl(int(fd), syscall.F_GETFL, 0)
		}); err != nil || cerr != nil {
			return fail(fmt.Errorf("listener %d: %w", i, errors.Join(err, cerr)))
		}
		fd := int(f.Fd()) // a pollable file turns the description blocking here
		if err := syscall.SetNonblock(fd, false); err != nil {
			return fail(fmt.Errorf("listener %d: %w", i, err))
		}
		nfd, err := fcntl(fd, syscall.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("listener %d: dup: %w", i, err))
		}
		nf := os.NewFile(uintptr(nfd), f.Name()) // blocking now: a plain, non-pollable file
		out = append(out, nf)
		if orig&syscall.O_NONBLOCK != 0 {
			syscall.SetNonblock(nfd, true)
		}
		tv := syscall.NsecToTimeval(int64(acceptTimeout))
		if err := syscall.SetsockoptTimeval(nfd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil &&
			!errors.Is(err, syscall.ENOTSOCK) {
			return fail(fmt.Errorf("listener %d: SO_RCVTIMEO: %w", i, err))
		}
	}
	return out, nil
}

func fcntl(fd, cmd, arg int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), uintptr(arg))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// spawner starts every worker from one OS thread that stays locked for the
// master's life: Pdeathsig fires when the thread that started the child
// exits, not the process, so starting workers from whatever thread the
// scheduler picked could kill them when the runtime retires that thread.
// When the master is done the channel is closed and the goroutine returns
// still locked, which ends the thread (all workers are reaped by then).
func spawner(reqs <-chan spawnReq) {
	runtime.LockOSThread()
	for r := range reqs {
		r.done <- r.cmd.Start()
	}
}

func (m *master) close() {
	signal.Stop(m.sigCh)
	if m.router != nil {
		m.router.stop()
	}
	close(m.spawn)
	for _, f := range m.listeners {
		f.Close()
	}
	if m.stats != nil {
		m.stats.close()
	}
	if m.hb != nil {
		m.hb.close()
	}
}

func (m *master) run() int {
	if name := m.spec.Names.Master(); name != "" {
		SetProcessName(name)
	}
	m.log.Printf("*** uwsgo master process (pid: %d) ***", os.Getpid())
	now := time.Now()
	m.nextHarakiri = now.Add(m.harakiriEvery)
	for _, s := range m.slots[1:] {
		m.start(s, now, false)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	touched := make(chan string, 1)
	if len(m.spec.TouchReload) > 0 {
		w, err := filewatch.New(func(p string) {
			select {
			case touched <- p:
			default: // a reload is on its way
			}
		})
		if err == nil {
			defer w.Close()
			err = w.Add(m.spec.TouchReload...)
		}
		if err != nil {
			m.log.Printf("!!! --touch-reload: %v !!!", err)
		}
	}
	var statsReq <-chan chan []byte
	if m.stats != nil {
		go m.stats.serve()
		statsReq = m.stats.req
	}
	for {
		// Signals first: a group SIGINT must win over the worker exits it
		// causes.
		m.drainSignals()
		if m.stopping && m.alive == 0 {
			m.log.Printf("goodbye to uwsgo.")
			return m.exitCode
		}
		m.tick(time.Now())
		if m.stopping && m.alive == 0 {
			continue
		}
		if wake, ok := m.nextWake(); ok {
			timer.Reset(max(time.Until(wake), time.Millisecond))
		} else {
			timer.Stop()
		}
		select {
		case sig := <-m.sigCh:
			m.onSignal(sig)
		case ev := <-m.exitCh:
			m.drainSignals()
			m.onExit(ev)
		case <-timer.C:
		case p := <-touched:
			m.log.Printf("*** %s has been touched... grace them all !!! ***", p)
			m.onSignal(syscall.SIGHUP)
		case reply := <-statsReq:
			reply <- m.statsJSON()
		}
	}
}

func (m *master) drainSignals() {
	for {
		select {
		case sig := <-m.sigCh:
			m.onSignal(sig)
		default:
			return
		}
	}
}

// start runs slot s's worker, or schedules a retry if it cannot.
func (m *master) start(s *slot, now time.Time, respawn bool) {
	s.respawnAt = time.Time{}
	s.reloading, s.mercyKilled, s.harakiriKill = false, false, false
	if m.hb != nil && s.extra == nil {
		m.hb.reset(s.id)
	}
	args, env := m.argv, m.workerEnv(s.id)
	name := m.spec.Names.Worker(s.id)
	if s.extra != nil {
		env = append(env, EnvExtra+"="+s.extra.String())
		env = append(env, s.extra.Env...)
		name = ""
		if m.spec.Names.Enabled() {
			name = m.spec.Names.wrap(s.extra.Name)
		}
	}
	if name != "" {
		// the name as argv[0] makes room for it in the worker's argv
		// area (see SetProcessName); the worker's options follow
		args = append([]string{name}, m.argv[1:]...)
		env = append(env, EnvProcname+"="+name)
	}
	cmd := &exec.Cmd{
		Path: m.exe,
		Args: args,
		Env:  env,
		SysProcAttr: &syscall.SysProcAttr{
			Pdeathsig: syscall.SIGKILL,
		},
	}
	// The workers share the master's stdio (pdb in an app wants the
	// terminal); exec gives them /dev/null for any the master lacks.
	if fdOpen(0) {
		cmd.Stdin = os.Stdin
	}
	if fdOpen(1) {
		cmd.Stdout = os.Stdout
	}
	if fdOpen(2) {
		cmd.Stderr = os.Stderr
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, m.listeners...)
	if m.hb != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, m.hb.file)
	}
	if m.spec.ReqLog != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, m.spec.ReqLog)
	}
	if len(m.spec.Inherit) > 0 {
		fds := make([]string, len(m.spec.Inherit))
		for i, f := range m.spec.Inherit {
			fds[i] = fmt.Sprint(FirstListenFD + len(cmd.ExtraFiles))
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		}
		cmd.Env = append(cmd.Env, EnvInheritFDs+"="+strings.Join(fds, ","))
	}
	for _, sf := range m.spec.Shared {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", sf.Env, FirstListenFD+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, sf.File)
	}
	kind, kid := "worker", s.id
	if s.extra != nil {
		kind, kid = s.extra.Kind, s.extra.Index
	}
	ch, err := m.router.openChannel(cmd, kind, kid) // last: it names its own fd
	if err != nil {
		m.log.Printf("!!! %s starts without signals: %v !!!", s.who(), err)
	}
	done := make(chan error, 1)
	m.spawn <- spawnReq{cmd, done}
	s.started = now
	err = <-done
	if ch != nil {
		pid := 0
		if err == nil {
			pid = cmd.Process.Pid
		}
		m.router.started(ch, pid, err)
		if err == nil {
			s.channel = ch
		}
	}
	if err != nil {
		s.quickDeaths++
		d := backoff(s.quickDeaths)
		m.log.Printf("!!! cannot start uwsgo %s: %v: retrying in %v !!!", s.who(), err, d)
		s.respawnAt = now.Add(d)
		return
	}
	s.cmd, s.pid, s.alive = cmd, cmd.Process.Pid, true
	s.respawns++
	s.lastRequests = 0
	m.alive++
	if m.hb != nil {
		m.hb.started(s.id, s.pid, now, s.respawns)
	}
	if respawn {
		m.log.Printf("Respawned uwsgo %s (new pid: %d)", s.who(), s.pid)
	} else {
		m.log.Printf("spawned uwsgo %s (pid: %d)", s.who(), s.pid)
	}
	if s.extra != nil && m.spec.ExtraStarted != nil {
		m.spec.ExtraStarted(s.extraIndex, s.pid)
	}
	go func(id, pid int) {
		err := cmd.Wait()
		ev := exitEvent{id: id, pid: pid}
		if cmd.ProcessState != nil {
			ev.ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
		} else {
			ev.err = err
		}
		m.exitCh <- ev
	}(s.id, s.pid)
}

// fdOpen reports whether fd is open: a master started with "<&-" must
// still start workers.
func fdOpen(fd int) bool {
	var st syscall.Stat_t
	return syscall.Fstat(fd, &st) == nil
}

func (m *master) workerEnv(id int) []string {
	ours := []string{
		EnvWorkerID + "=" + fmt.Sprint(id),
		EnvNumProc + "=" + fmt.Sprint(m.spec.Processes),
		EnvMasterPID + "=" + fmt.Sprint(os.Getpid()),
		EnvListenFDs + "=" + fmt.Sprint(len(m.spec.Listeners)),
		EnvStartedOn + "=" + fmt.Sprint(processStart.Unix()),
	}
	if m.reloaded {
		ours = append(ours, EnvIsAReload+"=1")
	}
	if m.hb != nil {
		ours = append(ours,
			EnvHeartbeatFD+"="+fmt.Sprint(FirstListenFD+len(m.spec.Listeners)),
			EnvSlotLayout+"="+fmt.Sprintf("%d,%d", m.hb.layout.apps, m.hb.layout.cores))
	}
	if m.spec.Harakiri > 0 {
		ours = append(ours, EnvHarakiri+"="+m.spec.Harakiri.String())
	}
	if m.spec.ReqLog != nil {
		fd := FirstListenFD + len(m.spec.Listeners)
		if m.hb != nil {
			fd++
		}
		ours = append(ours, EnvReqLogFD+"="+fmt.Sprint(fd))
	}
	var env []string
	for _, kv := range append(os.Environ(), m.spec.Env...) {
		if !isWorkerVar(kv) {
			env = append(env, kv)
		}
	}
	return append(env, ours...)
}

func isWorkerVar(kv string) bool {
	for _, k := range workerVars {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

func (m *master) kill(s *slot, sig syscall.Signal) {
	if !s.alive {
		return
	}
	if err := syscall.Kill(s.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		m.log.Printf("cannot send %s to %s (pid: %d): %v", sigName(sig), s.who(), s.pid, err)
	}
}

func (m *master) onSignal(sig os.Signal) {
	now := time.Now()
	switch sig {
	case syscall.SIGHUP:
		if m.stopping {
			return
		}
		m.log.Printf("...gracefully reloading workers...")
		m.reloaded = true
		for _, s := range m.slots[1:] {
			switch {
			case s.alive && !s.reloading:
				s.reloading, s.mercyAt = true, now.Add(m.spec.ReloadMercy)
				m.kill(s, syscall.SIGHUP)
			case !s.alive && !s.respawnAt.IsZero():
				// Backing off (say the app failed to import): the user
				// probably fixed it; try now.
				if s.pendingLog != "" {
					m.log.Print(s.pendingLog)
					s.pendingLog = ""
				}
				s.quickDeaths = 0
				m.start(s, now, true)
			}
		}
	default: // SIGINT, SIGQUIT, SIGTERM
		if m.stopping {
			m.log.Printf("%s received while stopping: killing workers...", sigName(sig.(syscall.Signal)))
			for _, s := range m.slots[1:] {
				m.kill(s, syscall.SIGKILL)
			}
			m.stopKillAt = time.Time{}
			return
		}
		if sig == syscall.SIGTERM && m.spec.GracefulTerm {
			m.log.Printf("SIGTERM received: gracefully killing workers (they have %v to finish)...", m.spec.ReloadMercy)
			m.stopWorkers(now, syscall.SIGTERM, m.spec.ReloadMercy)
		} else {
			m.log.Printf("%s received: stopping workers...", sigName(sig.(syscall.Signal)))
			m.stopWorkers(now, syscall.SIGINT, m.spec.StopTimeout)
		}
	}
}

// stopWorkers begins a stop: every worker gets sig (SIGINT, or SIGTERM
// for a graceful stop) and has mercy to leave; nothing respawns.
func (m *master) stopWorkers(now time.Time, sig syscall.Signal, mercy time.Duration) {
	m.stopping, m.stopSince, m.stopKillAt = true, now, now.Add(mercy)
	m.stopSig = sig
	for _, s := range m.slots[1:] {
		s.respawnAt, s.pendingLog = time.Time{}, ""
		m.kill(s, m.stopSig)
	}
}

func (m *master) onExit(ev exitEvent) {
	s := m.slots[ev.id]
	if !s.alive || s.pid != ev.pid {
		return
	}
	now := time.Now()
	s.alive = false
	m.alive--
	m.router.closeChannel(s.channel)
	s.channel = nil
	lived := now.Sub(s.started)
	cause := describe(ev)
	who := fmt.Sprintf("%s (pid: %d)", s.who(), s.pid)
	if s.extra != nil && m.spec.ExtraStarted != nil {
		m.spec.ExtraStarted(s.extraIndex, 0)
	}

	switch {
	case m.stopping:
		if !stopLike(ev.ws) && !(ev.ws.Signaled() && ev.ws.Signal() == syscall.SIGKILL) {
			m.log.Printf("%s %s", who, cause)
		}
		m.log.Printf("%s buried after %.1f seconds", s.who(), now.Sub(m.stopSince).Seconds())
		return
	case m.spec.NeedApp && ev.ws.Exited() && ev.ws.ExitStatus() == ExitNoApp:
		m.log.Printf("OOPS ! failed loading app in %s: need-app requested, destroying the instance...", who)
		m.exitCode = ExitNoApp
		m.stopWorkers(now, syscall.SIGINT, m.spec.StopTimeout)
	case s.harakiriKill:
		m.log.Printf("%s killed by harakiri: respawning", who)
		s.quickDeaths = 0
		m.respawnAfter(s, now, 0)
	case ev.ws.Exited() && ev.ws.ExitStatus() == ExitReload,
		s.reloading && ev.ws.Signaled() && ev.ws.Signal() == syscall.SIGHUP:
		if s.reloading {
			m.log.Printf("%s reloaded", who)
		} else {
			m.log.Printf("%s recycled", who)
		}
		s.quickDeaths = 0
		m.respawnAfter(s, now, minRespawnInterval-lived)
	case s.reloading:
		// Left during a reload, some other way (say the reload mercy ran
		// out): respawn it at once all the same.
		m.log.Printf("%s %s during reload", who, cause)
		s.quickDeaths = 0
		m.respawnAfter(s, now, minRespawnInterval-lived)
	default:
		damn := fmt.Sprintf("DAMN ! %s died, %s :( trying respawn ...", who, cause)
		var delay time.Duration
		if lived < healthyLife {
			s.quickDeaths++
			delay = backoff(s.quickDeaths)
			damn += fmt.Sprintf("\n*** %s died %v after its start (%d in a row under %v): backing off, respawn in %v ***",
				s.who(), lived.Round(time.Millisecond), s.quickDeaths, healthyLife, delay)
		} else {
			s.quickDeaths = 0
		}
		if stopLike(ev.ws) {
			// Maybe the terminal's Ctrl-C reached the worker before the
			// master: report and respawn only if no stop follows.
			s.pendingLog = damn
			delay = max(delay, stopGrace)
		} else {
			m.log.Print(damn)
		}
		m.respawnAfter(s, now, delay)
	}
}

func (m *master) respawnAfter(s *slot, now time.Time, d time.Duration) {
	if d <= 0 && s.pendingLog == "" {
		m.start(s, now, true)
		return
	}
	s.respawnAt = now.Add(max(d, 0))
}

// tick does whatever is due: respawns, the stop deadline, reload mercy,
// harakiri.
func (m *master) tick(now time.Time) {
	if m.stopping {
		if !m.stopKillAt.IsZero() && !now.Before(m.stopKillAt) {
			for _, s := range m.slots[1:] {
				if s.alive {
					m.log.Printf("%s (pid: %d) still there after %v: SIGKILL", s.who(), s.pid, m.stopKillAt.Sub(m.stopSince).Round(time.Millisecond))
					m.kill(s, syscall.SIGKILL)
				}
			}
			m.stopKillAt = time.Time{}
		}
		return
	}
	for _, s := range m.slots[1:] {
		if !s.alive && !s.respawnAt.IsZero() && !now.Before(s.respawnAt) {
			if s.pendingLog != "" {
				m.log.Print(s.pendingLog)
				s.pendingLog = ""
			}
			m.start(s, now, true)
		}
		if lt := m.spec.MaxWorkerLifetime; lt > 0 && s.extra == nil && s.alive && !s.reloading && !now.Before(s.started.Add(lt)) {
			m.log.Printf("worker %d lifetime reached, it was running for %d second(s)", s.id, int(now.Sub(s.started).Seconds()))
			s.reloading, s.mercyAt = true, now.Add(m.spec.ReloadMercy)
			m.kill(s, syscall.SIGHUP)
		}
		if s.alive && s.reloading && !s.mercyKilled && !now.Before(s.mercyAt) {
			m.log.Printf("%s (pid: %d) did not finish its reload in %v: SIGKILL", s.who(), s.pid, m.spec.ReloadMercy)
			s.mercyKilled = true
			m.kill(s, syscall.SIGKILL)
		}
	}
	if !now.Before(m.nextUserHarakiri) {
		// set_user_harakiri: checked once a second, as uWSGI's master does
		m.nextUserHarakiri = now.Add(time.Second)
		mono := m.clock.now()
		for _, s := range m.slots[1:] {
			if s.extra != nil {
				if s.extra.Kind == "spooler" && s.alive && !s.harakiriKill && m.spec.SpoolerState != nil {
					// --spooler-harakiri (the area holds only the workers' slots)
					if at := m.spec.SpoolerState(s.extraIndex).HarakiriAt; at > 0 && mono >= at*int64(time.Second) {
						m.log.Printf("*** HARAKIRI ON THE SPOOLER (pid: %d) ***", s.pid)
						s.harakiriKill = true
						s.harakiris++
						m.kill(s, syscall.SIGKILL)
					}
				}
				continue
			}
			if d, core := m.hb.userHarakiri(s.id); s.alive && !s.harakiriKill && d > 0 && mono >= d {
				if core >= 0 {
					m.log.Printf("HARAKIRI (user) triggered by worker %d core %d !!!", s.id, core)
				}
				m.log.Printf("*** HARAKIRI ON WORKER %d (pid: %d, user harakiri) ***", s.id, s.pid)
				s.harakiriKill = true
				s.harakiris++
				m.kill(s, syscall.SIGKILL)
			}
		}
	}
	if m.spec.Harakiri > 0 && !now.Before(m.nextHarakiri) {
		m.nextHarakiri = now.Add(m.harakiriEvery)
		mono := m.clock.now()
		for _, s := range m.slots[1:] {
			if !s.alive || s.harakiriKill || s.extra != nil {
				continue
			}
			last, busy := m.hb.read(s.id)
			if !busy || last == 0 {
				continue
			}
			if stuck := time.Duration(mono - last); stuck >= m.spec.Harakiri {
				m.log.Printf("*** HARAKIRI ON WORKER %d (pid: %d, stuck for %v) ***", s.id, s.pid, stuck.Round(100*time.Millisecond))
				if m.spec.HarakiriVerbose {
					m.logStuck(s)
				}
				s.harakiriKill = true
				s.harakiris++
				m.kill(s, syscall.SIGKILL)
			}
		}
	}
}

// nextWake is when tick has something to do next.
func (m *master) nextWake() (time.Time, bool) {
	var t time.Time
	consider := func(c time.Time) {
		if !c.IsZero() && (t.IsZero() || c.Before(t)) {
			t = c
		}
	}
	if m.stopping {
		consider(m.stopKillAt)
		return t, !t.IsZero()
	}
	for _, s := range m.slots[1:] {
		if !s.alive {
			consider(s.respawnAt)
		} else if s.reloading && !s.mercyKilled {
			consider(s.mercyAt)
		} else if lt := m.spec.MaxWorkerLifetime; lt > 0 && s.extra == nil && !s.reloading {
			consider(s.started.Add(lt))
		}
	}
	if m.spec.Harakiri > 0 {
		consider(m.nextHarakiri)
	}
	consider(m.nextUserHarakiri)
	return t, !t.IsZero()
}

// logStuck says where a stuck worker is in the kernel, as uWSGI's
// --harakiri-verbose: /proc/PID/syscall (the system call and its
// arguments, or "running") and /proc/PID/wchan (where it sleeps).
func (m *master) logStuck(s *slot) {
	for _, f := range []string{"syscall", "wchan"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", s.pid, f))
		if err != nil || len(b) == 0 {
			continue
		}
		m.log.Printf("HARAKIRI: -- %s> %s", f, strings.TrimSpace(string(b)))
	}
}

// stopLike reports whether a worker left the way a stop request makes it
// leave.
func stopLike(ws syscall.WaitStatus) bool {
	if ws.Exited() {
		return ws.ExitStatus() == 0
	}
	if ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT:
			return true
		}
	}
	return false
}

// describe says how a worker left: "exit status 3", "killed by signal 11
// (SIGSEGV: segmentation fault), core dumped".
func describe(ev exitEvent) string {
	ws := ev.ws
	switch {
	case ev.err != nil:
		return fmt.Sprintf("lost (%v)", ev.err)
	case ws.Signaled():
		s := ws.Signal()
		d := fmt.Sprintf("killed by signal %d (%s: %v)", int(s), sigName(s), s)
		if ws.CoreDump() {
			d += ", core dumped"
		}
		return d
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

var sigNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGSTKFLT: "SIGSTKFLT", syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR",
	syscall.SIGSYS: "SIGSYS",
}

func sigName(s syscall.Signal) string {
	if n, ok := sigNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
