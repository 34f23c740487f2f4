"""What the benchmark scripts share: ports and waiting for a server."""
import os
import platform
import signal
import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    """Wait until port accepts; raise if proc exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("exited with %s at start" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("did not start in %d s" % timeout)


def stop_group(proc, sig=signal.SIGINT, timeout=10):
    """Stop a server started in its own process group: sig, then SIGKILL."""
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout)
    except Exception:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


# "x86_64, AMD EPYC ..., 2 CPUs, Linux 6.x": the machine line of a results heading
def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %s, %d CPUs, Linux %s" % (platform.machine(), model, os.cpu_count(), platform.release())
