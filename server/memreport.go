package server

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

var pageSize = int64(os.Getpagesize())

// appendMemoryReport prefixes a request line with the worker's memory,
// as uWSGI's --memory-report does: "{address space usage: N bytes/NMB}
// {rss usage: N bytes/NMB} ". It reads /proc/self/statm: three system
// calls a request, paid only with the option on.
func appendMemoryReport(b []byte) []byte {
	var buf [128]byte
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return b
	}
	n, _ := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	f := bytes.Fields(buf[:max(n, 0)])
	if len(f) < 2 {
		return b
	}
	vsz, _ := strconv.ParseInt(string(f[0]), 10, 64)
	rss, _ := strconv.ParseInt(string(f[1]), 10, 64)
	vsz, rss = vsz*pageSize, rss*pageSize
	b = append(b, "{address space usage: "...)
	b = strconv.AppendInt(b, vsz, 10)
	b = append(b, " bytes/"...)
	b = strconv.AppendInt(b, vsz>>20, 10)
	b = append(b, "MB} {rss usage: "...)
	b = strconv.AppendInt(b, rss, 10)
	b = append(b, " bytes/"...)
	b = strconv.AppendInt(b, rss>>20, 10)
	return append(b, "MB} "...)
}
