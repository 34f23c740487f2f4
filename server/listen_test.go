package server

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestListenTCP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0", "localhost:0"} {
		ln, err := Listen(addr, 5)
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("%s: dial: %v", addr, err)
		} else {
			c.Close()
		}
		ln.Close()
	}
	if ln, err := Listen("[::1]:0", 5); err == nil {
		if a := ln.Addr().(*net.TCPAddr); a.IP.String() != "::1" {
			t.Errorf("[::1]:0 bound %v", a)
		}
		ln.Close()
	}
	for _, bad := range []string{"3031", "127.0.0.1:http-alt:1", "127.0.0.1:99999", "no.such.host.invalid:80"} {
		if ln, err := Listen(bad, 5); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted", bad)
		}
	}
	// SO_REUSEADDR: a port just released can be bound again at once.
	ln, err := Listen("127.0.0.1:0", 5)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c, _ := net.Dial("tcp", addr)
	sc, _ := ln.Accept()
	sc.Close() // server closes first: TIME_WAIT on the listener's port
	c.Close()
	ln.Close()
	ln, err = Listen(addr, 5)
	if err != nil {
		t.Fatalf("rebinding %s: %v", addr, err)
	}
	ln.Close()
}

func TestListenUnix(t *testing.T) {
	path := t.TempDir() + "/app.sock"
	// A stale socket file, left by a process that died.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("stale socket file not left behind")
	}
	ln, err := Listen(path, 5)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	// A live one is not stolen.
	if ln2, err := Listen(path, 5); err == nil {
		ln2.Close()
		t.Error("Listen took over a socket in use")
	}
	// A regular file is never removed.
	file := t.TempDir() + "/data.sock"
	os.WriteFile(file, []byte("keep"), 0o644)
	if ln3, err := Listen(file, 5); err == nil {
		ln3.Close()
		t.Error("Listen replaced a regular file")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("regular file clobbered")
	}
	// Relative ".sock" names are unix sockets too.
	dir := t.TempDir()
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	ln4, err := Listen("rel.sock", 5)
	if err != nil {
		t.Fatal(err)
	}
	if ln4.Addr().Network() != "unix" {
		t.Errorf("rel.sock: %v", ln4.Addr().Network())
	}
	ln4.Close()
}

func TestListenAbstract(t *testing.T) {
	name := "@uwsgo-test-" + strconv.Itoa(os.Getpid())
	ln, err := Listen(name, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !strings.HasPrefix(ln.Addr().String(), "@") {
		t.Errorf("addr %q", ln.Addr())
	}
}

// TestListenBacklog reads the backlog back with ss(8), which shows it as
// a listening socket's Send-Q.
func TestListenBacklog(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("no ss")
	}
	ln, err := Listen("127.0.0.1:0", 7)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	out, err := exec.Command("ss", "-ltnH", "sport = :"+port).Output()
	if err != nil {
		t.Skipf("ss: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 || f[2] != "7" {
		t.Errorf("ss says %q; want a backlog (Send-Q) of 7", out)
	}
}
