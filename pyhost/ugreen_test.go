package pyhost

import (
	"math"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestSwitchPingPong(t *testing.T) {
	modes := []int{SwitchSwapcontext}
	if haveFastSwitch() {
		modes = append(modes, SwitchFast)
	}
	for _, m := range modes {
		n, err := pingPong(m, 100000, 16)
		if err != nil {
			t.Fatal(err)
		}
		if n != 100000 {
			t.Fatalf("mode %d: green thread ran %d times, want 100000", m, n)
		}
		want := 1.5 * math.Pow(1.0000001, 100000)
		if got := lastFloat(); math.Abs(got-want) > 1e-6 {
			t.Fatalf("mode %d: float state lost across switches: %v, want %v", m, got, want)
		}
	}
}

func TestGuardPageFaults(t *testing.T) {
	if os.Getenv("UGREEN_TOUCH_GUARD") == "1" {
		touchGuardPage()
		os.Exit(0) // not reached when the guard works
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuardPageFaults$")
	cmd.Env = append(os.Environ(), "UGREEN_TOUCH_GUARD=1")
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("writing into the guard page did not kill the process: %v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	// Go's runtime turns SIGSEGV in C code into exit status 2 with a crash report
	if !(ws.Signaled() && ws.Signal() == syscall.SIGSEGV) && ws.ExitStatus() != 2 {
		t.Fatalf("unexpected end of the process: %v", ws)
	}
}

func BenchmarkSwitchFast(b *testing.B) {
	if !haveFastSwitch() {
		b.Skip("no fast switch on this CPU")
	}
	pingPong(SwitchFast, b.N, 16)
}

func BenchmarkSwitchSwapcontext(b *testing.B) {
	pingPong(SwitchSwapcontext, b.N, 16)
}
