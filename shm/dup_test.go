package shm

import (
	"os"
	"syscall"
)

func dupFd(f *os.File) (int, error) { return syscall.Dup(int(f.Fd())) }
