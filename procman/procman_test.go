package procman

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The test binary plays every part: the test runner, a master (mode
// "master", RunMaster on a listener the test opened), the master's workers
// (CurrentWorker reports true; UWSGO_TEST_WORKER_MODE says how to behave),
// and the two processes of the WatchMaster test.
const (
	envMode        = "UWSGO_TEST_MODE"         // master | orphanparent | watcher
	envWorkerMode  = "UWSGO_TEST_WORKER_MODE"  // serve (default) | crashstart
	envProcs       = "UWSGO_TEST_PROCESSES"    // master: Spec.Processes
	envHarakiri    = "UWSGO_TEST_HARAKIRI"     // master: Spec.Harakiri
	envStopTimeout = "UWSGO_TEST_STOP_TIMEOUT" // master: Spec.StopTimeout
	envIgnoreInt   = "UWSGO_TEST_IGNORE_INT"   // worker: ignore SIGINT
	envWatchPID    = "UWSGO_TEST_WATCH_PID"    // watcher: the pid to watch
)

func TestMain(m *testing.M) {
	if w, ok := CurrentWorker(); ok {
		os.Exit(fakeWorker(w))
	}
	switch os.Getenv(envMode) {
	case "master":
		os.Exit(fakeMaster())
	case "orphanparent":
		os.Exit(orphanParent())
	case "watcher":
		os.Exit(watcher())
	}
	// A race-enabled binary sleeps 1 s at exit (TSan's atexit_sleep_ms):
	// spare the masters and workers the tests start.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	// Orphans (workers whose master the tests SIGKILL) come back to the
	// test runner, which reaps them: no zombies left, and "gone" is exact.
	const prSetChildSubreaper = 36
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	os.Exit(m.Run())
}

func fakeMaster() int {
	dur := func(k string) time.Duration { d, _ := time.ParseDuration(os.Getenv(k)); return d }
	procs, _ := strconv.Atoi(os.Getenv(envProcs))
	syscall.CloseOnExec(3)
	return RunMaster(Spec{
		Processes:   procs,
		Listeners:   []*os.File{os.NewFile(3, "test-listener")},
		Harakiri:    dur(envHarakiri),
		Argv:        os.Args,
		Logger:      log.New(os.Stderr, "", 0),
		StopTimeout: dur(envStopTimeout),
	})
}

// fakeWorker serves one line-based command per connection, one connection
// at a time (a worker busy with one does not accept the next, so
// concurrent clients spread over the workers):
//
//	who       -> "<id> <pid> <masterpid> <numproc>"
//	whoslow   -> the same, then 300 ms before accepting again
//	segv      -> "ok <pid>", then dies by SIGSEGV
//	hang      -> stops beating, beats busy once, "hanging <id> <pid>", never returns
//	idlehang  -> stops beating, beats idle once, "idle <id> <pid>", serves on
//
// SIGHUP: exit ExitReload; SIGINT/SIGTERM/SIGQUIT: exit 0.
func fakeWorker(w *Worker) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	go func() {
		for s := range sigs {
			if s == syscall.SIGHUP {
				os.Exit(ExitReload)
			}
			if s == syscall.SIGINT && os.Getenv(envIgnoreInt) != "" {
				continue
			}
			os.Exit(0)
		}
	}()
	go func() {
		<-WatchMaster(w.MasterPID)
		os.Exit(3)
	}()
	// The master logs "spawned" once the process exists; the tests wait
	// for this line before they send signals the worker must handle.
	fmt.Fprintf(os.Stderr, "test worker %d (pid: %d) ready\n", w.ID, os.Getpid())
	if os.Getenv(envWorkerMode) == "crashstart" {
		time.Sleep(20 * time.Millisecond)
		dieBy(syscall.SIGSEGV)
	}

	var mu sync.Mutex
	beating := true
	go func() {
		for {
			mu.Lock()
			if beating {
				w.Heartbeat.Beat(false)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stopBeating := func(busy bool) {
		mu.Lock()
		beating = false
		w.Heartbeat.Beat(busy)
		mu.Unlock()
	}

	ln, err := net.FileListener(w.Listeners[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 5
	}
	pid := os.Getpid()
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake worker:", err)
			return 5
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		switch strings.TrimSpace(line) {
		case "who", "whoslow":
			fmt.Fprintf(c, "%d %d %d %d\n", w.ID, pid, w.MasterPID, w.NumProc)
			c.Close()
			if strings.TrimSpace(line) == "whoslow" {
				time.Sleep(300 * time.Millisecond)
			}
		case "segv":
			fmt.Fprintf(c, "ok %d\n", pid)
			c.Close()
			dieBy(syscall.SIGSEGV)
		case "hang":
			stopBeating(true)
			fmt.Fprintf(c, "hanging %d %d\n", w.ID, pid)
			c.Close()
			select {}
		case "idlehang":
			stopBeating(false)
			fmt.Fprintf(c, "idle %d %d\n", w.ID, pid)
			c.Close()
		default:
			c.Close()
		}
	}
}

// dieBy kills this process with sig for real (the Go runtime would turn a
// SIGSEGV into a panic and exit 2): default disposition, no core file.
func dieBy(sig syscall.Signal) {
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	var act [4]uint64 // struct sigaction, all zero: SIG_DFL, no flags, empty mask
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Hour)
}

// orphanParent starts a watcher child (without Pdeathsig), reports its pid,
// and waits to be killed.
func orphanParent() int {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envMode+"=watcher", envWatchPID+"="+strconv.Itoa(os.Getpid()))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Printf("child %d\n", cmd.Process.Pid)
	time.Sleep(time.Hour)
	return 0
}

func watcher() int {
	pid, _ := strconv.Atoi(os.Getenv(envWatchPID))
	gone := WatchMaster(pid)
	fmt.Println("watching")
	select {
	case <-gone:
		fmt.Println("master gone")
	case <-time.After(30 * time.Second):
		fmt.Println("timeout")
	}
	return 0
}

// --- test-side helpers ---

// logBuf collects a process's stderr, line by line.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuf) add(l string) { b.mu.Lock(); b.lines = append(b.lines, l); b.mu.Unlock() }

func (b *logBuf) snapshot() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

func (b *logBuf) String() string { return strings.Join(b.snapshot(), "\n") }

// all returns the submatches of every line matching re.
func (b *logBuf) all(re *regexp.Regexp) [][]string {
	var out [][]string
	for _, l := range b.snapshot() {
		if m := re.FindStringSubmatch(l); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// waitN waits until n lines match re and returns their submatches.
func (b *logBuf) waitN(t *testing.T, re *regexp.Regexp, n int, timeout time.Duration) [][]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := b.all(re); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d line(s) matching %q, want %d", timeout, len(b.all(re)), re, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type masterProc struct {
	cmd  *exec.Cmd
	addr string
	logs *logBuf
	done chan struct{}
	err  error // from Wait, once done is closed
}

var (
	reMaster    = regexp.MustCompile(`^\*\*\* uwsgo master process \(pid: (\d+)\) \*\*\*$`)
	reSpawned   = regexp.MustCompile(`^spawned uwsgo worker (\d+) \(pid: (\d+)\)$`)
	reRespawned = regexp.MustCompile(`^Respawned uwsgo worker (\d+) \(new pid: (\d+)\)$`)
	reAnySpawn  = regexp.MustCompile(`^(?:spawned|Respawned) uwsgo worker (\d+) \((?:new )?pid: (\d+)\)$`)
	reReady     = regexp.MustCompile(`^test worker (\d+) \(pid: (\d+)\) ready$`)
	reGoodbye   = regexp.MustCompile(`^goodbye to uwsgo\.$`)
	reDamn      = regexp.MustCompile(`^DAMN ! worker (\d+) \(pid: (\d+)\) died, (.*) :\( trying respawn \.\.\.$`)
)

// startMaster runs the test binary as a master of procs workers, on a
// fresh TCP listener that only the master (and its workers) hold.
func startMaster(t *testing.T, procs int, env ...string) *masterProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	p := &masterProc{addr: ln.Addr().String(), logs: &logBuf{}, done: make(chan struct{})}
	ln.Close()
	defer lf.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Env = append(os.Environ(), envMode+"=master", envProcs+"="+strconv.Itoa(procs))
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.ExtraFiles = []*os.File{lf}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group: we play the terminal
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.logs.add(sc.Text())
		}
		r.Close()
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("master log:\n%s", p.logs)
		}
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		// Pdeathsig takes the workers with the master; make sure.
		for _, m := range p.logs.all(reAnySpawn) {
			pid, _ := strconv.Atoi(m[2])
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	})
	p.logs.waitN(t, reMaster, 1, 10*time.Second)
	p.logs.waitN(t, reSpawned, procs, 10*time.Second)
	p.logs.waitN(t, reReady, procs, 10*time.Second)
	return p
}

func (p *masterProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the master to exit and returns its exit code.
func (p *masterProc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("master still running after %v", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// workers returns the current pid of each worker id, from the log.
func (p *masterProc) workers() map[int]int {
	ws := map[int]int{}
	for _, m := range p.logs.all(reAnySpawn) {
		id, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		ws[id] = pid
	}
	return ws
}

func ask(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: %w (got %q)", cmd, err, line)
	}
	return strings.TrimSpace(line), nil
}

// who asks a worker who it is: id, pid, master pid, numproc.
func who(t *testing.T, addr, cmd string) [4]int {
	t.Helper()
	line, err := ask(addr, cmd)
	if err != nil {
		t.Fatal(err)
	}
	var r [4]int
	if _, err := fmt.Sscan(line, &r[0], &r[1], &r[2], &r[3]); err != nil {
		t.Fatalf("who: %q: %v", line, err)
	}
	return r
}

// gone reports whether pid no longer exists. It reaps it if it is an
// orphan that came back to us, and counts a zombie nobody reaps as gone.
func gone(pid int) bool {
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !gone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// --- unit tests ---

func TestBackoff(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := backoff(1000); got != backoffMax {
		t.Errorf("backoff(1000) = %v", got)
	}
}

func TestHeartbeat(t *testing.T) {
	a, err := newHBArea(3)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	fd, err := syscall.Dup(int(a.file.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	h, err := mapHeartbeat(fd, 2)
	if err != nil {
		t.Fatal(err)
	}
	clock := newMonoClock()
	if last, busy := a.read(2); last != 0 || busy {
		t.Fatalf("fresh slot: %d %v", last, busy)
	}
	h.Beat(true)
	last, busy := a.read(2)
	if age := time.Duration(clock.now() - last); !busy || age < -time.Millisecond || age > time.Second {
		t.Fatalf("after Beat(true): busy=%v age=%v", busy, age)
	}
	time.Sleep(50 * time.Millisecond)
	if age := time.Duration(clock.now() - last); age < 50*time.Millisecond {
		t.Fatalf("age %v after 50ms", age)
	}
	h.Beat(false)
	if _, busy := a.read(2); busy {
		t.Fatal("busy after Beat(false)")
	}
	for _, id := range []int{1, 3} {
		if last, _ := a.read(id); last != 0 {
			t.Fatalf("slot %d written", id)
		}
	}
	a.reset(2)
	if last, _ := a.read(2); last != 0 {
		t.Fatal("reset")
	}
	var none *Heartbeat
	none.Beat(true) // no-op

	if _, err := mapHeartbeat(mustDup(t, a.file), 4096/hbSlotSize+1); err == nil {
		t.Fatal("slot beyond the area accepted")
	}
}

func mustDup(t *testing.T, f *os.File) int {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func BenchmarkBeat(b *testing.B) {
	a, err := newHBArea(1)
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	fd, _ := syscall.Dup(int(a.file.Fd()))
	h, err := mapHeartbeat(fd, 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		h.Beat(i&1 == 0)
	}
}

func TestWorkerFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	w, err := workerFromEnv(env(map[string]string{
		EnvWorkerID: "2", EnvNumProc: "3", EnvMasterPID: "1234", EnvListenFDs: "0", EnvHarakiri: "30s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if w.ID != 2 || w.NumProc != 3 || w.MasterPID != 1234 || len(w.Listeners) != 0 || w.Heartbeat != nil || w.Harakiri != 30*time.Second {
		t.Fatalf("%+v", w)
	}
	for _, bad := range []map[string]string{
		{EnvWorkerID: "0", EnvNumProc: "3", EnvMasterPID: "1", EnvListenFDs: "0"},
		{EnvWorkerID: "4", EnvNumProc: "3", EnvMasterPID: "1", EnvListenFDs: "0"},
		{EnvWorkerID: "1", EnvNumProc: "3", EnvMasterPID: "x", EnvListenFDs: "0"},
		{EnvWorkerID: "1", EnvNumProc: "3", EnvMasterPID: "1"},
		{EnvWorkerID: "1", EnvNumProc: "1", EnvMasterPID: "1", EnvListenFDs: "0", EnvHarakiri: "soon"},
		{EnvWorkerID: "1", EnvNumProc: "1", EnvMasterPID: "1", EnvListenFDs: "1000"},
	} {
		if _, err := workerFromEnv(env(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	if _, ok := CurrentWorker(); ok {
		t.Fatal("the test runner thinks it is a worker")
	}
}

// Variables that name fds of this process that are not the master's (a
// listener count past the inherited ones, a heartbeat fd that is not
// the area) are refused without touching those fds: no file is made of
// them, so none is closed when the garbage collector runs.
func TestWorkerFromEnvLeavesOtherFdsAlone(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	// the fds from 3 up to the first closed one: what a listener count
	// past the inherited fds walks over
	type ident struct{ dev, ino uint64 }
	before := map[int]ident{}
	for fd := FirstListenFD; ; fd++ {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil {
			break
		}
		before[fd] = ident{uint64(st.Dev), st.Ino}
	}
	if len(before) < 2 {
		t.Fatalf("expected the pipe among fds 3...: %v", before)
	}
	for _, bad := range []map[string]string{
		// fds 3... are this test's own (Go's poller, the pipe): the count
		// runs past them to a closed one
		{EnvWorkerID: "1", EnvNumProc: "1", EnvMasterPID: "1", EnvListenFDs: "1000"},
		// every listener fd is open, the heartbeat fd is a pipe
		{EnvWorkerID: "1", EnvNumProc: "1", EnvMasterPID: "1", EnvListenFDs: "2", EnvHeartbeatFD: strconv.Itoa(p[1])},
		// a bad layout after good fds
		{EnvWorkerID: "1", EnvNumProc: "1", EnvMasterPID: "1", EnvListenFDs: "2", EnvReqLogFD: strconv.Itoa(p[1]),
			EnvHeartbeatFD: strconv.Itoa(p[0]), EnvSlotLayout: "x"},
	} {
		if _, err := workerFromEnv(env(bad)); err == nil {
			t.Fatalf("accepted %v", bad)
		}
	}
	for i := 0; i < 3; i++ { // collect, and let the finalizers run
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	for fd, id := range before {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil || (ident{uint64(st.Dev), st.Ino}) != id {
			t.Errorf("fd %d was closed (or replaced) after a refused environment: %v", fd, err)
		}
	}
}

func TestWorkerEnvReplacesInherited(t *testing.T) {
	m := &master{spec: Spec{Processes: 2, Listeners: make([]*os.File, 2), Env: []string{"EXTRA=1", EnvWorkerID + "=9"}}}
	env := m.workerEnv(2)
	got := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	if fmt.Sprint(got[EnvWorkerID]) != "[2]" || fmt.Sprint(got[EnvNumProc]) != "[2]" ||
		fmt.Sprint(got[EnvListenFDs]) != "[2]" || fmt.Sprint(got["EXTRA"]) != "[1]" ||
		fmt.Sprint(got[EnvMasterPID]) != fmt.Sprintf("[%d]", os.Getpid()) || got[EnvHeartbeatFD] != nil {
		t.Fatalf("%v", got)
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		ws   syscall.WaitStatus
		want string
	}{
		{syscall.WaitStatus(3 << 8), "exit status 3"},
		{syscall.WaitStatus(11), "killed by signal 11 (SIGSEGV: segmentation fault)"},
		{syscall.WaitStatus(9), "killed by signal 9 (SIGKILL: killed)"},
		{syscall.WaitStatus(6 | 0x80), "killed by signal 6 (SIGABRT: aborted), core dumped"},
	} {
		if got := describe(exitEvent{ws: c.ws}); got != c.want {
			t.Errorf("describe(%#x) = %q, want %q", uint32(c.ws), got, c.want)
		}
	}
	if !stopLike(syscall.WaitStatus(0)) || !stopLike(syscall.WaitStatus(2)) || stopLike(syscall.WaitStatus(11)) || stopLike(syscall.WaitStatus(ExitReload<<8)) {
		t.Error("stopLike")
	}
}

func TestWatchMasterNoMaster(t *testing.T) {
	select {
	case <-WatchMaster(0):
		t.Fatal("closed with no master")
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case <-WatchMaster(os.Getppid()):
		t.Fatal("closed while the parent lives")
	case <-time.After(50 * time.Millisecond):
	}
	select {
	case <-WatchMaster(1 << 22): // not our parent: "dead" at once
	case <-time.After(2 * time.Second):
		t.Fatal("not closed for a pid that is not our parent")
	}
}

// --- processes and signals ---

func TestSpawnAndServe(t *testing.T) {
	p := startMaster(t, 3)
	masterPID := p.cmd.Process.Pid
	if m := p.logs.all(reMaster); m[0][1] != strconv.Itoa(masterPID) {
		t.Fatalf("master line says pid %s, want %d", m[0][1], masterPID)
	}
	pids := p.workers()
	if len(pids) != 3 {
		t.Fatalf("workers %v", pids)
	}
	// Every worker inherited the listener and answers on it. A worker
	// busy with "whoslow" does not accept, so concurrent clients spread.
	seen := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		var wg sync.WaitGroup
		res := make(chan string, 6)
		for range 6 {
			wg.Go(func() {
				line, err := ask(p.addr, "whoslow")
				if err != nil {
					line = err.Error()
				}
				res <- line
			})
		}
		wg.Wait()
		close(res)
		for line := range res {
			var r [4]int
			if _, err := fmt.Sscan(line, &r[0], &r[1], &r[2], &r[3]); err != nil {
				t.Fatalf("who: %q: %v", line, err)
			}
			if r[1] != pids[r[0]] || r[2] != masterPID || r[3] != 3 {
				t.Fatalf("answer %v; workers %v, master %d", r, pids, masterPID)
			}
			seen[r[0]] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("answers from workers %v only", seen)
	}
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestRespawnAfterDeath(t *testing.T) {
	p := startMaster(t, 2)
	first := p.workers()

	// Clients keep asking all along. None may be refused; only a request
	// the killed worker had already accepted may be lost with it.
	stop := make(chan struct{})
	var dialErrs, lost []error
	var answers int
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
			if err != nil {
				dialErrs = append(dialErrs, err)
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "who\n")
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				lost = append(lost, err)
			} else {
				answers++
			}
			c.Close()
			time.Sleep(5 * time.Millisecond)
		}
	})

	syscall.Kill(first[1], syscall.SIGKILL)
	m := p.logs.waitN(t, reDamn, 1, 5*time.Second)[0]
	if m[1] != "1" || m[2] != strconv.Itoa(first[1]) || m[3] != "killed by signal 9 (SIGKILL: killed)" {
		t.Fatalf("death line %q", m[0])
	}
	r := p.logs.waitN(t, reRespawned, 1, 5*time.Second)[0]
	if r[1] != "1" || r[2] == strconv.Itoa(first[1]) {
		t.Fatalf("respawn line %q", r[0])
	}
	if !waitGone(first[1], 2*time.Second) {
		t.Fatal("killed worker still there")
	}

	// A segfault is reported by name.
	line, err := ask(p.addr, "segv")
	if err != nil {
		t.Fatal(err)
	}
	var segvPID int
	fmt.Sscanf(line, "ok %d", &segvPID)
	m = p.logs.waitN(t, reDamn, 2, 5*time.Second)[1]
	if m[2] != strconv.Itoa(segvPID) || m[3] != "killed by signal 11 (SIGSEGV: segmentation fault)" {
		t.Fatalf("death line %q, segv in pid %d", m[0], segvPID)
	}
	p.logs.waitN(t, reRespawned, 2, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(dialErrs) > 0 || len(lost) > 1 || answers == 0 {
		t.Fatalf("%d answers; while workers died: refused %v, lost %v", answers, dialErrs, lost)
	}

	// The other worker was never touched.
	cur := p.workers()
	if len(p.logs.all(reAnySpawn)) != 4 || len(cur) != 2 {
		t.Fatalf("spawns: %v", p.logs.all(reAnySpawn))
	}
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestRespawnSingleWorkerKeepsListener(t *testing.T) {
	// With one worker, a client that connects while it is dead waits in
	// the backlog and is served by the next one.
	p := startMaster(t, 1)
	old := p.workers()[1]
	syscall.Kill(old, syscall.SIGKILL)
	r := who(t, p.addr, "who")
	if r[1] == old {
		t.Fatalf("answered by the killed worker %d", old)
	}
}

var reBackoff = regexp.MustCompile(`^\*\*\* worker 1 died \S+ after its start \((\d+) in a row under 1s\): backing off, respawn in (\S+) \*\*\*$`)

func TestCrashOnStartBackoff(t *testing.T) {
	p := startMaster(t, 1, envWorkerMode+"=crashstart")
	time.Sleep(3 * time.Second)
	spawns := len(p.logs.all(reAnySpawn))
	// Without back-off this would be hundreds; with it: 0, 0.1, 0.3, 0.7,
	// 1.5 s (+ the workers' short lives) and the next after 3.1 s.
	if spawns < 3 || spawns > 7 {
		t.Fatalf("%d spawns in 3s", spawns)
	}
	bo := p.logs.all(reBackoff)
	if len(bo) < 2 {
		t.Fatalf("back-off lines: %v", bo)
	}
	var prev time.Duration
	for i, m := range bo {
		n, _ := strconv.Atoi(m[1])
		d, _ := time.ParseDuration(m[2])
		if n != i+1 || d != backoff(n) || d < prev {
			t.Fatalf("back-off line %q (#%d)", m[0], i+1)
		}
		prev = d
	}
	if m := p.logs.all(reDamn); len(m) == 0 || !strings.HasPrefix(m[0][3], "killed by signal 11 (SIGSEGV") {
		t.Fatalf("deaths: %v", m)
	}
	// A stop while backing off stops at once and respawns nothing.
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if n := len(p.logs.all(reAnySpawn)); n != spawns && n != spawns+1 {
		t.Fatalf("%d spawns, then %d after the stop", spawns, n)
	}
}

func TestBackoffResetsAfterHealthyLife(t *testing.T) {
	var buf bytes.Buffer
	m, err := newMaster(Spec{Processes: 1, Logger: log.New(&buf, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	m.exe = "/nonexistent/uwsgo" // respawns fail: we only look at the decisions
	s := m.slots[1]
	die := func(lived time.Duration) {
		buf.Reset()
		s.alive, s.pid, s.started = true, 42, time.Now().Add(-lived)
		m.alive++
		m.onExit(exitEvent{id: 1, pid: 42, ws: syscall.WaitStatus(11)})
	}
	die(10 * time.Millisecond)
	if s.quickDeaths != 1 || !strings.Contains(buf.String(), "backing off, respawn in 100ms") {
		t.Fatalf("quick death: %d\n%s", s.quickDeaths, &buf)
	}
	s.respawnAt = time.Time{}
	die(10 * time.Millisecond)
	if s.quickDeaths != 2 || !strings.Contains(buf.String(), "respawn in 200ms") {
		t.Fatalf("second quick death: %d\n%s", s.quickDeaths, &buf)
	}
	s.respawnAt = time.Time{}
	die(2 * time.Second)
	if strings.Contains(buf.String(), "backing off") || !strings.Contains(buf.String(), "cannot start uwsgo worker 1") {
		t.Fatalf("death after a healthy life:\n%s", &buf)
	}
}

func TestHarakiri(t *testing.T) {
	p := startMaster(t, 2, envHarakiri+"=1s")
	var hangID, hangPID, idleID, idlePID int
	line, err := ask(p.addr, "hang")
	if err != nil {
		t.Fatal(err)
	}
	hungAt := time.Now()
	fmt.Sscanf(line, "hanging %d %d", &hangID, &hangPID)
	// The hung worker accepts nothing more: this goes to the other one.
	line, err = ask(p.addr, "idlehang")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscanf(line, "idle %d %d", &idleID, &idlePID)
	if hangPID == 0 || idlePID == 0 || hangPID == idlePID {
		t.Fatalf("hang %d/%d, idle %d/%d", hangID, hangPID, idleID, idlePID)
	}

	reHK := regexp.MustCompile(`^\*\*\* HARAKIRI ON WORKER (\d+) \(pid: (\d+), stuck for (\S+)\) \*\*\*$`)
	m := p.logs.waitN(t, reHK, 1, 5*time.Second)[0]
	if m[1] != strconv.Itoa(hangID) || m[2] != strconv.Itoa(hangPID) {
		t.Fatalf("harakiri line %q; hung worker %d (pid %d)", m[0], hangID, hangPID)
	}
	if d, _ := time.ParseDuration(m[3]); d < time.Second || time.Since(hungAt) < 900*time.Millisecond {
		t.Fatalf("harakiri after %v (says %s)", time.Since(hungAt), m[3])
	}
	r := p.logs.waitN(t, reRespawned, 1, 5*time.Second)[0]
	if r[1] != strconv.Itoa(hangID) {
		t.Fatalf("respawned %q", r[0])
	}
	if !waitGone(hangPID, 2*time.Second) {
		t.Fatal("hung worker still there")
	}
	// The idle worker has not beaten for as long, but was not busy.
	time.Sleep(time.Until(hungAt.Add(3 * time.Second)))
	for _, m := range p.logs.all(reHK) {
		if m[2] == strconv.Itoa(idlePID) {
			t.Fatalf("idle worker killed: %q", m[0])
		}
	}
	if gone(idlePID) {
		t.Fatal("idle worker gone")
	}
	// The new worker serves.
	who(t, p.addr, "who")
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestGracefulReload(t *testing.T) {
	p := startMaster(t, 2)
	old := p.workers()
	p.signal(t, syscall.SIGHUP)
	p.logs.waitN(t, regexp.MustCompile(`^\.\.\.gracefully reloading workers\.\.\.$`), 1, 5*time.Second)
	reReloaded := regexp.MustCompile(`^worker (\d+) \(pid: (\d+)\) reloaded$`)
	p.logs.waitN(t, reReloaded, 2, 5*time.Second)
	p.logs.waitN(t, reRespawned, 2, 5*time.Second)
	cur := p.workers()
	for id, pid := range old {
		if cur[id] == pid || cur[id] == 0 {
			t.Fatalf("worker %d: pid %d before, %d after", id, pid, cur[id])
		}
		if !waitGone(pid, 2*time.Second) {
			t.Fatalf("old worker %d still there", pid)
		}
	}
	if d := p.logs.all(reDamn); len(d) > 0 {
		t.Fatalf("reload reported as deaths: %v", d)
	}
	r := who(t, p.addr, "who")
	if r[1] != cur[r[0]] {
		t.Fatalf("answer %v, workers %v", r, cur)
	}
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func checkStopped(t *testing.T, p *masterProc, pids map[int]int) {
	t.Helper()
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	p.logs.waitN(t, reGoodbye, 1, time.Second)
	for id, pid := range pids {
		// The master reaped its workers before it left: not even zombies.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker %d (pid %d) still there: kill(0) = %v", id, pid, err)
		}
	}
	if r := p.logs.all(reRespawned); len(r) > 0 {
		t.Errorf("respawned while stopping: %v", r)
	}
	if d := p.logs.all(reDamn); len(d) > 0 {
		t.Errorf("stop reported as deaths: %v", d)
	}
	if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		t.Error("listener still open after the master left")
	}
}

func TestStopOnSIGINT(t *testing.T) {
	p := startMaster(t, 3)
	who(t, p.addr, "who")
	pids := p.workers()
	p.signal(t, syscall.SIGINT)
	checkStopped(t, p, pids)
}

func TestStopOnSIGTERM(t *testing.T) {
	p := startMaster(t, 2)
	pids := p.workers()
	p.signal(t, syscall.SIGTERM)
	checkStopped(t, p, pids)
	p.logs.waitN(t, regexp.MustCompile(`^SIGTERM received: stopping workers\.\.\.$`), 1, time.Second)
}

func TestStopCtrlC(t *testing.T) {
	// Ctrl-C: the terminal sends SIGINT to the whole process group, so
	// the workers get it (and leave) as the master does. Nothing may be
	// respawned or reported as a crash.
	for range 3 {
		p := startMaster(t, 3)
		pids := p.workers()
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		checkStopped(t, p, pids)
	}
}

func TestStopKillsStubbornWorkers(t *testing.T) {
	p := startMaster(t, 2, envIgnoreInt+"=1", envStopTimeout+"=500ms")
	pids := p.workers()
	start := time.Now()
	p.signal(t, syscall.SIGINT)
	checkStopped(t, p, pids)
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Fatalf("stopped after %v, before the stop timeout", el)
	}
	p.logs.waitN(t, regexp.MustCompile(`^worker \d \(pid: \d+\) still there after 500ms: SIGKILL$`), 2, time.Second)
}

func TestSecondSIGINTKillsAtOnce(t *testing.T) {
	p := startMaster(t, 2, envIgnoreInt+"=1", envStopTimeout+"=20s")
	pids := p.workers()
	p.signal(t, syscall.SIGINT)
	p.logs.waitN(t, regexp.MustCompile(`^SIGINT received: stopping workers`), 1, 5*time.Second)
	p.signal(t, syscall.SIGINT)
	checkStopped(t, p, pids)
}

func TestMasterDeathKillsWorkers(t *testing.T) {
	p := startMaster(t, 2)
	pids := p.workers()
	p.cmd.Process.Kill()
	p.wait(t, 5*time.Second)
	for id, pid := range pids {
		if !waitGone(pid, 3*time.Second) {
			t.Errorf("worker %d (pid %d) outlived its master", id, pid)
		}
	}
}

func TestWatchMaster(t *testing.T) {
	// A worker started without Pdeathsig (as if it had been missed)
	// notices its master's death by polling getppid.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envMode+"=orphanparent")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(timeout time.Duration) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("output closed")
			}
			return l
		case <-time.After(timeout):
			t.Fatalf("nothing after %v", timeout)
		}
		return ""
	}
	var child int
	if _, err := fmt.Sscanf(next(10*time.Second), "child %d", &child); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL); waitGone(child, 5*time.Second) })
	if l := next(10 * time.Second); l != "watching" {
		t.Fatalf("watcher says %q", l)
	}
	cmd.Process.Kill()
	killed := time.Now()
	if l := next(5 * time.Second); l != "master gone" {
		t.Fatalf("watcher says %q", l)
	}
	if el := time.Since(killed); el > 2500*time.Millisecond {
		t.Fatalf("noticed after %v", el)
	}
	cmd.Wait()
	if !waitGone(child, 5*time.Second) {
		t.Fatal("watcher did not exit")
	}
}

// A listener file from net.TCPListener.File is pollable: os/exec's call to
// its Fd at every spawn would put the socket (the open file description
// the workers share) into blocking mode, and a worker's accept4 would then
// sleep in the kernel. The master hands workers duplicates that leave the
// mode alone, and bounds a blocking accept with SO_RCVTIMEO.
func TestSpawnKeepsListenerNonblocking(t *testing.T) {
	// Plain TCP, as uwsgo's listeners (server.Listen): an MPTCP listener,
	// Go's default, ignores SO_RCVTIMEO in accept.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, err := inheritable([]*os.File{f})
	if err != nil {
		t.Fatal(err)
	}
	defer files[0].Close()
	nonblocking := func() bool {
		fl, err := fcntl(int(files[0].Fd()), syscall.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl&syscall.O_NONBLOCK != 0
	}
	if !nonblocking() {
		t.Fatal("inheritable left the listener in blocking mode")
	}
	for range 2 {
		cmd := exec.Command("/bin/true")
		cmd.ExtraFiles = files
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		if !nonblocking() {
			t.Fatal("starting a child put the listener into blocking mode")
		}
	}
	// Blocking mode (a worker's net.FileListener passes through it for a
	// moment): accept gives up after acceptTimeout instead of sleeping.
	fd := int(files[0].Fd())
	syscall.SetNonblock(fd, false)
	defer syscall.SetNonblock(fd, true)
	start := time.Now()
	_, _, err = syscall.Accept4(fd, syscall.SOCK_CLOEXEC)
	if took := time.Since(start); !errors.Is(err, syscall.EAGAIN) || took > 10*acceptTimeout {
		t.Fatalf("blocking accept: %v after %v, want EAGAIN after about %v", err, took, acceptTimeout)
	}
}
