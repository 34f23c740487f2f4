package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultBacklog is uWSGI's --listen default.
const DefaultBacklog = 100

// Listen opens a listener for a uWSGI-style address: ":3031",
// "127.0.0.1:3031", "[::1]:80", a unix socket path (contains "/" or ends
// in ".sock"), or "@name" for a Linux abstract socket. The socket is made
// by hand because net.Listen always uses the kernel's somaxconn as the
// backlog, and --listen must be honoured.
func Listen(addr string, backlog int) (net.Listener, error) {
	return ListenSocket(addr, SocketOptions{Backlog: backlog, UID: -1, GID: -1})
}

// SocketOptions are what uWSGI lets one set on its sockets.
type SocketOptions struct {
	Backlog int // --listen; <= 0: DefaultBacklog
	// Mode is given to a unix socket file once it is bound
	// (--chmod-socket); 0 leaves what the umask made.
	Mode os.FileMode
	// UID and GID own a unix socket file once it is bound
	// (--chown-socket); -1 leaves each as it is.
	UID, GID int
	// DeferAccept sets TCP_DEFER_ACCEPT on TCP listeners, in seconds (0:
	// off): the kernel hands a connection over only once its first bytes
	// arrived (or the time is up), so a worker is never woken for a
	// connection it cannot read yet. uWSGI does it by default with its
	// --socket-timeout; --no-defer-accept turns it off.
	DeferAccept int
}

// ListenSocket is Listen with uWSGI's socket options. The mode and owner
// are set between bind and listen, so no client connects before they
// hold; they do not apply to TCP or abstract sockets (no file).
func ListenSocket(addr string, opt SocketOptions) (net.Listener, error) {
	if opt.Backlog <= 0 {
		opt.Backlog = DefaultBacklog
	}
	if isUnixAddr(addr) {
		return listenUnix(addr, opt)
	}
	return listenTCP(addr, opt)
}

// SocketFile returns the file a unix socket address binds ("" for TCP and
// abstract addresses): what --vacuum removes at exit.
func SocketFile(addr string) string {
	if isUnixAddr(addr) && !strings.HasPrefix(addr, "@") {
		return addr
	}
	return ""
}

func isUnixAddr(addr string) bool {
	return strings.Contains(addr, "/") || strings.HasSuffix(addr, ".sock") || strings.HasPrefix(addr, "@")
}

func listenTCP(addr string, opt SocketOptions) (net.Listener, error) {
	backlog := opt.Backlog
	set := tcpOptions(opt)
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("listen %q: bad port %q", addr, portStr)
	}
	if host == "" || host == "*" {
		// Every address: dual-stack IPv6 when the host has it, else IPv4.
		if ln, err := bindListen(syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(port)}, addr, backlog, set, nil); err == nil {
			return ln, nil
		}
		return bindListen(syscall.AF_INET, &syscall.SockaddrInet4{Port: int(port)}, addr, backlog, set, nil)
	}
	ta, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, portStr))
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return bindListen(syscall.AF_INET, sa, addr, backlog, set, nil)
	}
	sa := &syscall.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	if ta.Zone != "" {
		if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return bindListen(syscall.AF_INET6, sa, addr, backlog, set, nil)
}

// tcpOptions returns what a TCP listener gets before bind (nil: nothing).
func tcpOptions(opt SocketOptions) func(fd int) error {
	if opt.DeferAccept <= 0 {
		return nil
	}
	return func(fd int) error {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, opt.DeferAccept); err != nil {
			return fmt.Errorf("setsockopt TCP_DEFER_ACCEPT: %w", err)
		}
		return nil
	}
}

func listenUnix(path string, opt SocketOptions) (net.Listener, error) {
	if strings.HasPrefix(path, "@") {
		// Go's SockaddrUnix turns a leading "@" into an abstract name.
		return bindListen(syscall.AF_UNIX, &syscall.SockaddrUnix{Name: path}, path, opt.Backlog, nil, nil)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	var bound func() error
	if opt.Mode != 0 || opt.UID >= 0 || opt.GID >= 0 {
		bound = func() error {
			if opt.Mode != 0 {
				if err := os.Chmod(path, opt.Mode); err != nil {
					return fmt.Errorf("chmod-socket: %w", err)
				}
			}
			if opt.UID >= 0 || opt.GID >= 0 {
				if err := os.Chown(path, opt.UID, opt.GID); err != nil {
					return fmt.Errorf("chown-socket: %w", err)
				}
			}
			return nil
		}
	}
	return bindListen(syscall.AF_UNIX, &syscall.SockaddrUnix{Name: path}, path, opt.Backlog, nil, bound)
}

// removeStaleSocket removes a socket file left by a dead process, and
// refuses to take over one that still answers or a file that is no socket.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("listen %q: file exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("listen %q: %w (another server answers on it)", path, syscall.EADDRINUSE)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// bindListen does socket/setsockopt/bind/listen and wraps the fd; set
// (if not nil) runs before bind, bound (if not nil) between bind and
// listen.
func bindListen(family int, sa syscall.Sockaddr, name string, backlog int, set func(fd int) error, bound func() error) (net.Listener, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("listen %q: socket: %w", name, err)
	}
	fail := func(op string, err error) (net.Listener, error) {
		syscall.Close(fd)
		return nil, fmt.Errorf("listen %q: %s: %w", name, op, err)
	}
	if family != syscall.AF_UNIX {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt SO_REUSEADDR", err)
		}
	}
	if family == syscall.AF_INET6 {
		if s6, ok := sa.(*syscall.SockaddrInet6); ok && isZero(s6.Addr[:]) {
			// "[::]" and ":port" also take IPv4, like Go's own listeners.
			syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
		}
	}
	if set != nil {
		if err := set(fd); err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("listen %q: %w", name, err)
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if bound != nil {
		if err := bound(); err != nil {
			syscall.Close(fd)
			os.Remove(name)
			return nil, fmt.Errorf("socket %q: %w", name, err)
		}
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close() // FileListener dups the fd
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", name, err)
	}
	return ln, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
