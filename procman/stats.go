package procman

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The stats server (uWSGI's --stats): the master answers every connection
// with one JSON document and closes it (with --stats-http, after reading
// the request, as an HTTP/1.0 response). The numbers are the workers'
// own, from their heartbeat slots; rss and vsz the master reads from
// /proc. The keys are uWSGI 2.0's, the ones uwsgitop reads.

type statsServer struct {
	ln   net.Listener
	http bool
	log  *log.Logger
	req  chan chan []byte // to the master's loop, which owns the slots
	done chan struct{}
}

// statsTimeout bounds how long a stats client may take to send its
// request (stats-http) and to read the answer.
const statsTimeout = 5 * time.Second

// ListenStats opens the stats server's socket: host:port, or a unix
// socket path (one left by an earlier run is replaced). Open it before
// the workers start, so a bad address is one error at start-up.
func ListenStats(addr string) (net.Listener, error) {
	network := "tcp"
	if strings.Contains(addr, "/") || !strings.Contains(addr, ":") {
		network = "unix"
		if st, err := os.Lstat(addr); err == nil && st.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = errno
		}
		return nil, fmt.Errorf("cannot bind the stats socket %s: %w", addr, err)
	}
	return ln, nil
}

func newStatsServer(ln net.Listener, overHTTP bool, lg *log.Logger) *statsServer {
	lg.Printf("stats server enabled on %s fd: %d", ln.Addr(), listenerFD(ln))
	return &statsServer{ln: ln, http: overHTTP, log: lg, req: make(chan chan []byte), done: make(chan struct{})}
}

func listenerFD(ln net.Listener) int {
	if sc, ok := ln.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			fd := -1
			rc.Control(func(f uintptr) { fd = int(f) })
			return fd
		}
	}
	return -1
}

func (s *statsServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		go s.answer(c)
	}
}

func (s *statsServer) answer(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(statsTimeout))
	if s.http {
		// read the request head; what it asks does not matter
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" || line == "\n" {
				break
			}
		}
	}
	reply := make(chan []byte, 1)
	select {
	case s.req <- reply:
	case <-s.done:
		return
	}
	body := <-reply
	if s.http {
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	}
	c.Write(body)
}

func (s *statsServer) close() {
	close(s.done)
	s.ln.Close()
	if u, ok := s.ln.Addr().(*net.UnixAddr); ok {
		os.Remove(u.Name)
	}
}

// The JSON documents, field order as uWSGI writes them.
type statsDoc struct {
	Version           string           `json:"version"`
	ListenQueue       int              `json:"listen_queue"`
	ListenQueueErrors int              `json:"listen_queue_errors"`
	SignalQueue       int              `json:"signal_queue"`
	Load              int              `json:"load"`
	PID               int              `json:"pid"`
	UID               int              `json:"uid"`
	GID               int              `json:"gid"`
	CWD               string           `json:"cwd"`
	Locks             []map[string]int `json:"locks"`
	Sockets           []statsSocket    `json:"sockets"`
	Workers           []statsWorker    `json:"workers"`
	Spoolers          []statsSpooler   `json:"spoolers,omitempty"` // only with spoolers, as uWSGI
	Mules             []statsMule      `json:"mules,omitempty"`    // uwsgo's: uWSGI 2.0 shows none
}

type statsSpooler struct {
	Dir      string `json:"dir"`
	PID      int    `json:"pid"`
	Tasks    uint64 `json:"tasks"`
	Respawns int    `json:"respawns"`
	Running  int    `json:"running"`
}

// statsMule has the names of uWSGI's struct uwsgi_mule, as the workers'
// entries do.
type statsMule struct {
	ID           int    `json:"id"`
	PID          int    `json:"pid"`
	LastSpawn    int64  `json:"last_spawn"`
	RespawnCount int    `json:"respawn_count"`
	Patch        string `json:"patch"` // what it runs: "" for a mule that waits for messages
}

type statsSocket struct {
	Name       string `json:"name"`
	Proto      string `json:"proto"`
	Queue      int    `json:"queue"`
	MaxQueue   int    `json:"max_queue"`
	Shared     int    `json:"shared"`
	CanOffload int    `json:"can_offload"`
}

type statsWorker struct {
	ID            int         `json:"id"`
	PID           int         `json:"pid"`
	Accepting     int         `json:"accepting"`
	Requests      uint64      `json:"requests"`
	DeltaRequests uint64      `json:"delta_requests"`
	Exceptions    uint64      `json:"exceptions"`
	HarakiriCount int         `json:"harakiri_count"`
	Signals       int         `json:"signals"`
	SignalQueue   int         `json:"signal_queue"`
	Status        string      `json:"status"`
	RSS           int64       `json:"rss"`
	VSZ           int64       `json:"vsz"`
	RunningTime   uint64      `json:"running_time"`
	LastSpawn     int64       `json:"last_spawn"`
	RespawnCount  int         `json:"respawn_count"`
	TX            uint64      `json:"tx"`
	AvgRT         uint64      `json:"avg_rt"`
	Apps          []statsApp  `json:"apps"`
	Cores         []statsCore `json:"cores"`
}

type statsApp struct {
	ID          int    `json:"id"`
	Modifier1   int    `json:"modifier1"`
	Mountpoint  string `json:"mountpoint"`
	StartupTime int    `json:"startup_time"`
	Requests    uint64 `json:"requests"`
	Exceptions  uint64 `json:"exceptions"`
	Chdir       string `json:"chdir"`
}

type statsCore struct {
	ID                int               `json:"id"`
	Requests          uint64            `json:"requests"`
	StaticRequests    int               `json:"static_requests"`
	RoutedRequests    int               `json:"routed_requests"`
	OffloadedRequests int               `json:"offloaded_requests"`
	WriteErrors       int               `json:"write_errors"`
	ReadErrors        int               `json:"read_errors"`
	InRequest         uint64            `json:"in_request"`
	Vars              []string          `json:"vars"`
	ReqInfo           map[string]string `json:"req_info"`
}

// statsJSON builds the document (on the master's loop).
func (m *master) statsJSON() []byte {
	cwd, _ := os.Getwd()
	d := statsDoc{
		Version: m.spec.Version, PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), CWD: cwd,
		Locks: []map[string]int{}, Sockets: []statsSocket{}, Workers: []statsWorker{},
	}
	for i, f := range m.listeners {
		sk := listenerStats(f)
		if i < len(m.spec.SocketProtos) {
			sk.Proto = m.spec.SocketProtos[i]
		}
		d.Sockets = append(d.Sockets, sk)
		d.ListenQueue += sk.Queue
	}
	for _, s := range m.slots[1:] {
		if s.extra != nil {
			m.extraStats(&d, s)
			continue
		}
		w := statsWorker{ID: s.id, Accepting: 1, Status: "idle", HarakiriCount: s.harakiris,
			RespawnCount: s.respawns, Apps: []statsApp{}, Cores: []statsCore{}}
		if !s.started.IsZero() {
			w.LastSpawn = s.started.Unix()
		}
		if s.alive {
			w.PID = s.pid
			w.RSS, w.VSZ = memoryOf(s.pid)
		} else {
			w.Accepting = 0
		}
		if m.hb != nil {
			words := m.hb.words(s.id)
			get := func(i int) uint64 { return atomic.LoadUint64(&words[i]) }
			w.Requests, w.Exceptions = get(wRequests), get(wExceptions)
			w.RunningTime, w.AvgRT, w.TX = get(wRunningTime), get(wAvgRT), get(wTx)
			if get(wNotAccepting) != 0 {
				w.Accepting = 0
			}
			w.DeltaRequests = w.Requests - min(s.lastRequests, w.Requests)
			s.lastRequests = w.Requests
			lay := m.hb.layout
			for i, mp := range m.spec.Apps {
				w.Apps = append(w.Apps, statsApp{ID: i, Mountpoint: mp,
					Requests: get(headerWords + 2*i), Exceptions: get(headerWords + 2*i + 1)})
			}
			for i := 0; i < lay.cores; i++ {
				c := statsCore{ID: i, Requests: get(lay.coreWord(i, cRequests)),
					InRequest: get(lay.coreWord(i, cInRequest)), Vars: []string{}, ReqInfo: map[string]string{}}
				if c.InRequest != 0 && s.alive {
					w.Status = "busy"
					d.Load++
				}
				w.Cores = append(w.Cores, c)
			}
		}
		if !s.alive {
			w.Status = "dead"
		}
		d.Workers = append(d.Workers, w)
	}
	b, err := json.MarshalIndent(d, "", "\t")
	if err != nil {
		return []byte("{}")
	}
	return append(b, '\n')
}

// extraStats adds a spooler or a mule to the document.
func (m *master) extraStats(d *statsDoc, s *slot) {
	pid := 0
	if s.alive {
		pid = s.pid
	}
	switch s.extra.Kind {
	case "spooler":
		sp := statsSpooler{Dir: s.extra.Dir, PID: pid, Respawns: max(s.respawns-1, 0)}
		if m.spec.SpoolerState != nil && s.alive {
			st := m.spec.SpoolerState(s.extraIndex)
			sp.Tasks = st.Tasks
			if st.Running {
				sp.Running = 1
			}
		}
		d.Spoolers = append(d.Spoolers, sp)
	case "mule":
		mu := statsMule{ID: s.extra.Index, PID: pid, RespawnCount: s.respawns, Patch: s.extra.Patch}
		if !s.started.IsZero() {
			mu.LastSpawn = s.started.Unix()
		}
		d.Mules = append(d.Mules, mu)
	}
}

// memoryOf reads a process's resident and virtual size from /proc.
func memoryOf(pid int) (rss, vsz int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, 0
	}
	page := int64(os.Getpagesize())
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	r, _ := strconv.ParseInt(string(f[1]), 10, 64)
	return r * page, v * page
}

// listenerStats describes one listening socket; for TCP the kernel's
// accept queue (tcpi_unacked) and backlog (tcpi_sacked), as uWSGI reads them.
func listenerStats(f *os.File) statsSocket {
	sk := statsSocket{Name: f.Name(), Proto: "uwsgi"}
	fd := int(f.Fd())
	if sa, err := syscall.Getsockname(fd); err == nil {
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			sk.Name = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
		case *syscall.SockaddrInet6:
			sk.Name = net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
		case *syscall.SockaddrUnix:
			sk.Name = a.Name
		}
	}
	var info syscall.TCPInfo
	size := uint32(unsafe.Sizeof(info))
	if _, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0); e == 0 {
		sk.Queue, sk.MaxQueue = int(info.Unacked), int(info.Sacked)
	}
	return sk
}
