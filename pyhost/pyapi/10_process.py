# Process control and attributes (the C part is api_process.c).
import os as _os
import signal as _signal
import time as _time


def _version_info(v):
    # uWSGI's (base, major, minor, revision, custom): (2, 0, 21, 0, b'uwsgo')
    text, _, custom = v.decode().partition("-")
    nums = [int(x) for x in text.split(".")] + [0, 0, 0, 0]
    return (nums[0], nums[1], nums[2], nums[3], custom.encode())


version_info = _version_info(version)
hostname = _os.uname().nodename.encode()
del _version_info

# The words of a worker's slot in the master's shared area, as
# procman/heartbeat.go numbers them.
_W_REQUESTS, _W_EXCEPTIONS, _W_RUNNING_TIME, _W_AVG_RT, _W_TX = 1, 2, 3, 4, 5
_W_USER_HARAKIRI, _W_NOT_ACCEPTING, _W_PID, _W_LAST_SPAWN, _W_RESPAWNS = 6, 7, 8, 9, 10
_HEADER_WORDS = 16
_CORE_WORDS = 3  # per core, after two per app: requests, in a request, user harakiri


def total_requests():
    """Requests served by every worker of the instance."""
    slots = _slots()
    if slots is None:
        return sum(_core_requests())
    return sum(s[_W_REQUESTS] for s in slots[2])


def _mem_of(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            vsz, rss = f.read().split()[:2]
    except (OSError, ValueError):
        return 0, 0
    page = _os.sysconf("SC_PAGE_SIZE")
    return int(rss) * page, int(vsz) * page


def mem():
    """(rss, vsz) of this process, in bytes."""
    return _mem_of(_os.getpid())


def workers():
    """A dict per worker, with the stats server's numbers."""
    slots = _slots()
    if slots is None:
        # no master: this worker alone, from its own counters
        rss, vsz = mem()
        return ({"id": 1, "pid": _os.getpid(), "requests": sum(_core_requests()), "delta_requests": 0,
                 "signals": 0, "exceptions": 0, "status": b"busy", "rss": rss, "vsz": vsz,
                 "running_time": 0, "last_spawn": started_on, "respawn_count": 0, "tx": 0, "avg_rt": 0,
                 "apps": ()},)
    napps, ncores, words = slots
    out = []
    for i, w in enumerate(words):
        core_base = _HEADER_WORDS + 2 * napps
        busy = any(w[core_base + _CORE_WORDS * c + 1] for c in range(ncores))
        pid = w[_W_PID]
        rss, vsz = _mem_of(pid) if pid else (0, 0)
        apps = tuple({"id": a, "modifier1": 0, "mountpoint": b"", "startup_time": 0, "interpreter": 0,
                      "callable": 0, "requests": w[_HEADER_WORDS + 2 * a],
                      "exceptions": w[_HEADER_WORDS + 2 * a + 1], "chdir": b""} for a in range(napps))
        out.append({"id": i + 1, "pid": pid, "requests": w[_W_REQUESTS], "delta_requests": 0,
                    "signals": 0, "exceptions": w[_W_EXCEPTIONS],
                    "status": b"busy" if busy else b"idle", "rss": rss, "vsz": vsz,
                    "running_time": w[_W_RUNNING_TIME], "last_spawn": w[_W_LAST_SPAWN],
                    "respawn_count": max(w[_W_RESPAWNS] - 1, 0), "tx": w[_W_TX], "avg_rt": w[_W_AVG_RT],
                    "apps": apps})
    return tuple(out)


def set_user_harakiri(seconds):
    """The master kills this worker unless this request ends, or calls
    set_user_harakiri(0), within seconds (checked once a second, as
    uWSGI's master does). Each core (async, green or thread) is timed on
    its own: another request ending does not clear this one's."""
    seconds = int(seconds)
    deadline = _time.monotonic_ns() + seconds * 1_000_000_000 if seconds > 0 else 0
    if not _user_harakiri(deadline) and seconds > 0:
        log("!!! unable to set user harakiri without the master process !!!")


def accepting(on=True):
    """Tell the master (and its stats) whether this worker accepts."""
    _slot_store(_W_NOT_ACCEPTING, 0 if on else 1)


def micros():
    """The time, in microseconds since the epoch."""
    return _time.time_ns() // 1000


def listen_queue(id=0):
    """Connections waiting in the kernel's accept queue of socket id."""
    if not 0 <= id < len(sockets):
        raise ValueError("unable to find socket %d" % id)
    import socket
    import struct
    s = socket.socket(fileno=_os.dup(sockets[id]))
    try:
        if s.family not in (socket.AF_INET, socket.AF_INET6):
            return 0
        # struct tcp_info: 8 bytes of u8 fields, then rto, ato, snd_mss,
        # rcv_mss, unacked (a listener's queue), sacked (its backlog)
        return struct.unpack_from("I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 24)[0]
    finally:
        s.close()


def reload():
    """Reload every worker gracefully, as SIGHUP to the master does."""
    if masterpid() <= 0:
        log("uwsgi.reload() needs the master (--master)")
        return None
    _os.kill(masterpid(), _signal.SIGHUP)
    return True


def stop():
    """Stop the instance, as SIGQUIT to the master does."""
    _os.kill(masterpid() if masterpid() > 0 else _os.getpid(), _signal.SIGQUIT)
    return True


# Request I/O. The request's body is read whole before the app runs (a
# chunked one is already decoded), so these read and write through the
# request's own wsgi.input and write().
_CHUNK = 65536


def chunked_read(timeout=0):
    """The next part of the request body (b"" at its end)."""
    return _request_environ()["wsgi.input"].read(_CHUNK)


def chunked_read_nb():
    """chunked_read() that never waits (the body is already here)."""
    return chunked_read()


def sendfile(what, chunk=0, pos=0, filesize=0):
    """Send a file (a path, a file object or an fd) as part of the
    response, from pos, filesize bytes (0: to its end), after what the
    response already sent; start_response must have been called."""
    chunk = chunk if chunk > 0 else _CHUNK
    if isinstance(what, (str, bytes)):
        try:
            fd = _os.open(what, _os.O_RDONLY | _os.O_CLOEXEC)
        except OSError as e:
            log("open(%r): %s" % (what, e.strerror))
            return None
        close = True
    else:
        fd = what if isinstance(what, int) else what.fileno()
        close = False
    try:
        left = filesize if filesize > 0 else _os.fstat(fd).st_size - pos
        while left > 0:
            data = _os.pread(fd, min(chunk, left), pos)
            if not data:
                break
            _request_write(data)
            pos += len(data)
            left -= len(data)
    finally:
        if close:
            _os.close(fd)
    return True
