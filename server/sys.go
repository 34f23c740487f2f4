package server

import (
	"net"
	"strconv"
	"syscall"
	"unsafe"
)

// The loop's socket calls are non-blocking and return at once, so they go
// through RawSyscall: the runtime's syscall bookkeeping, and sysmon
// handing the loop's P to another thread when a call runs long (a
// loopback write does the receiver's work too), cost more than the calls.
// sendfile, which may wait for the disk, keeps the ordinary path.
//
// The sys* wrappers are kept out of line so that a profile's call chains
// name the system call (bench/http_bench.py --profile relies on it).

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

//go:noinline
func sysRead(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_READ, fd, p) }

//go:noinline
func sysWrite(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2).
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sysWritev writes bufs (none empty) with one call; iov is scratch space.
//
//go:noinline
func sysWritev(fd int, bufs [][]byte, iov []syscall.Iovec) (int, []syscall.Iovec, error) {
	iov = iov[:0]
	for _, b := range bufs {
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // no stale pointers into sent buffers
	if e != 0 {
		return 0, iov, e
	}
	return int(n), iov, nil
}

//go:noinline
func sysClose(fd int) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
	return errnoErr(e)
}

// sysAccept4 accepts a connection, non-blocking and close-on-exec, and
// gives the peer's address and port (empty for a unix socket).
//
//go:noinline
func sysAccept4(fd int) (nfd int, ip, port string, err error) {
	var sa syscall.RawSockaddrAny
	size := uint32(syscall.SizeofSockaddrAny)
	r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&sa)),
		uintptr(unsafe.Pointer(&size)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, "", "", e
	}
	switch sa.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return int(r), net.IP(a.Addr[:]).String(), strconv.Itoa(int(p[0])<<8 | int(p[1])), nil
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		addr := net.IP(a.Addr[:])
		if v4 := addr.To4(); v4 != nil {
			addr = v4 // a v4 client on a dual-stack socket
		}
		return int(r), addr.String(), strconv.Itoa(int(p[0])<<8 | int(p[1])), nil
	}
	return int(r), "", "", nil
}
