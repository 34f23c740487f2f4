# The spooler and mules, as uWSGI 2.0 has them.
#
# A spooler task is a file in a spooler directory, in uWSGI's format, so
# that uWSGI and uwsgo read each other's: a uwsgi packet header (modifier1
# 17, the size of the variables as 16-bit little endian, modifier2 0), the
# variables (16-bit little-endian length, key, length, value; all bytes),
# then the body, if any, to the end of the file. Its name starts with
# "uwsgi_spoolfile_on_"; its mtime is the time it may run ("at"); a
# "priority" puts it in that subdirectory. Whoever works on a task holds a
# POSIX write lock on the whole file (fcntl; uWSGI's writers and spoolers
# take the same one), and the file is removed only once the spooler
# function returned SPOOL_OK: a spooler killed in the middle leaves the
# task for the next one.
#
# The master tells every process what is configured in UWSGO_API_SPOOLER
# (JSON) and hands it the shared files (UWSGO_INHERIT_FDS): a small shared
# area with the spoolers' and mules' pids (and the spooler frequency set by
# set_spooler_frequency), and one datagram socket pair per mule plus one
# shared by all mules (uWSGI's mule queues).


def _uwsgo_spooler_setup(ns):
    import errno
    import fcntl
    import json
    import mmap
    import os
    import re
    import select
    import signal
    import socket
    import stat
    import struct
    import sys
    import time
    import traceback

    ns["SPOOL_RETRY"] = -1
    ns["SPOOL_OK"] = -2
    ns["SPOOL_IGNORE"] = 0

    conf = json.loads(os.environ.pop("UWSGO_API_SPOOLER", "") or "{}")
    role = os.environ.pop("UWSGO_API_ROLE", "")
    inherit = [int(x) for x in os.environ.get("UWSGO_INHERIT_FDS", "").split(",") if x]
    kind, _, index = role.partition(" ")
    index = int(index) if index else 0

    spoolers = [os.fsencode(d) for d in conf.get("spoolers") or []]
    mules = conf.get("mules") or []
    nslots = 1 + len(spoolers) + len(mules)  # then 3 per spooler: tasks, running, harakiri
    area = None
    if "pids" in conf:
        fd = inherit[conf["pids"]]
        area = mmap.mmap(fd, (nslots + 3 * len(spoolers)) * 4, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    queues = [inherit[i] for i in conf.get("queues") or []]  # shared w, r, then mule 1 w, r, ...
    # --farm: name -> (its mules, its queue's w and r)
    farms = {f["name"]: (f["mules"], inherit[f["queue"][0]], inherit[f["queue"][1]]) for f in conf.get("farms") or []}
    for fd in queues + [q for _, w, r in farms.values() for q in (w, r)] + ([inherit[conf["pids"]]] if "pids" in conf else []):
        os.set_inheritable(fd, False)  # not for the app's children

    def slot(i):
        return struct.unpack_from("=i", area, 4 * i)[0] if area is not None else 0

    def set_slot(i, v):
        if area is not None:
            struct.pack_into("=i", area, 4 * i, v)

    def log(msg):
        try:
            os.write(2, (msg + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    quiet = conf.get("quiet", False)

    # ------------------------------------------------------------ tasks

    def pack_vars(items):
        out = bytearray()
        for k, v in items:
            out += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
        return bytes(out)

    def parse_vars(buf):
        """The variables of a task, or None when they are malformed."""
        d, i, n = {}, 0, len(buf)
        while i < n:
            if i + 2 > n:
                return None
            kl = struct.unpack_from("<H", buf, i)[0]
            i += 2
            if i + kl + 2 > n:
                return None
            k = bytes(buf[i:i + kl])
            i += kl
            vl = struct.unpack_from("<H", buf, i)[0]
            i += 2
            if i + vl > n:
                return None
            d[k] = bytes(buf[i:i + vl])
            i += vl
        return d

    def not_bytes(what):
        return ValueError("spooler callable dictionary must contains only bytes: " + what)

    def as_bytes(key, v):
        # uWSGI takes bytes, or what bytes() would make without being
        # told an encoding or a length (a buffer, a list of ints, __bytes__)
        if isinstance(v, bytes):
            return v
        if isinstance(v, (str, int, float, type(None))) and not hasattr(type(v), "__bytes__"):
            raise not_bytes("the value of %r is %s" % (key, type(v).__name__))
        try:
            return bytes(v)
        except (TypeError, ValueError):
            raise not_bytes("the value of %r is %s" % (key, type(v).__name__)) from None

    counter = [0]

    def spool(*args, **kwargs):
        if args:
            d = args[0]
            if not isinstance(d, dict):
                raise ValueError("The argument of spooler callable must be a dictionary")
        else:
            d = kwargs
        if not d:
            raise ValueError("The argument of spooler callable must be a dictionary")
        body = d.get(b"body")
        items = []
        for k, v in d.items():
            if k == b"body" and isinstance(body, bytes):
                continue
            if not isinstance(k, bytes):
                raise not_bytes("the key %r is %s" % (k, type(k).__name__))
            v = as_bytes(k, v)
            if len(k) > 0xffff or len(v) > 0xffff:
                raise ValueError("unable to spool job: the value of %r is %d bytes, more than 65535: put it in b'body'"
                                 % (k, len(v)))
            items.append((k, v))
        buf = pack_vars(items)
        if len(buf) > 0xffff:
            log("[uwsgi-spooler] args buffer is limited to 64k, use the 'body' for bigger values")
            raise ValueError("unable to spool job: its variables take %d bytes, more than 65535: put big values in b'body'"
                             % len(buf))
        fields = dict(items)
        where = 0
        if fields.get(b"spooler"):
            name = fields[b"spooler"]
            if name not in spoolers:
                log('[uwsgi-spooler] unable to find spooler "%s"' % name.decode("utf-8", "replace"))
                raise ValueError("unable to spool job: no spooler on %r (the spoolers: %s)"
                                 % (name, ", ".join(repr(s) for s in dict.fromkeys(spoolers))))
            where = spoolers.index(name)
        d_dir = spoolers[where]
        at = 0
        if fields.get(b"at"):
            m = re.match(rb"\s*[+-]?\d+", fields[b"at"])
            at = int(m.group(0)) if m else 0
        counter[0] += 1
        now = time.time()
        sec, usec = int(now), int((now - int(now)) * 1e6)
        leaf = b"uwsgi_spoolfile_on_%s_%d_%d_%d_%d_%d" % (
            socket.gethostname().encode(), os.getpid(), counter[0],
            int.from_bytes(os.urandom(4), "little") & 0x7fffffff, sec, usec)
        if fields.get(b"priority"):
            pdir = d_dir + b"/" + fields[b"priority"]
            try:
                os.mkdir(pdir, 0o777)
            except OSError:
                pass
            path = pdir + b"/" + leaf
        else:
            path = d_dir + b"/" + leaf
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as e:
            raise ValueError("unable to spool job: %s: %s" % (path.decode("utf-8", "replace"), e.strerror)) from None
        try:
            # locked until it is whole: a spooler skips a locked file
            fcntl.lockf(fd, fcntl.LOCK_EX)
            data = struct.pack("<BHB", 17, len(buf), 0) + buf
            if isinstance(body, bytes) and body:
                data += body
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if at > 0:
                os.utime(fd, (at, at))
        except OSError as e:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise ValueError("unable to spool job: %s: %s" % (path.decode("utf-8", "replace"), e.strerror)) from None
        os.close(fd)
        if not quiet:
            log("[spooler] written %d bytes to file %s" % (len(data), path.decode("utf-8", "replace")))
        # wake the spoolers of that directory (uWSGI sends SIGUSR1 too)
        for i, s in enumerate(spoolers):
            pid = slot(1 + i)
            if s == d_dir and pid > 0:
                try:
                    os.kill(pid, signal.SIGUSR1)
                except OSError:
                    pass
        return path

    def read_task(path, fd):
        """(variables, body) of the task open on fd, None while it is not
        whole, or False when it is broken."""
        head = os.read(fd, 4)
        if len(head) != 4:
            return None
        size = struct.unpack_from("<H", head, 1)[0]
        buf = b""
        while len(buf) < size:
            chunk = os.read(fd, size - len(buf))
            if not chunk:
                return False
            buf += chunk
        rest = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            rest.append(chunk)
        vars_ = parse_vars(buf)
        if vars_ is None:
            return False
        return vars_, b"".join(rest)

    def task_dict(name, vars_, body):
        d = {"spooler_task_name": name}
        d.update(vars_)
        if body:
            d["body"] = body
        return d

    def spooler_get_task(path):
        if isinstance(path, str):
            path = os.fsencode(path)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return None
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return None
            t = read_task(path, fd)
        finally:
            os.close(fd)
        if not t:
            return None
        return task_dict(path, *t)

    def spooler_jobs():
        if not spoolers:
            return []
        d = spoolers[0]
        out = []
        try:
            names = os.listdir(d)
        except OSError:
            return out
        for n in names:
            if n.startswith(b"uwsgi_spoolfile_on_"):
                p = d + b"/" + n
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and os.access(p, os.R_OK | os.W_OK):
                    out.append(p)
        return out

    def set_spooler_frequency(freq):
        if not isinstance(freq, int):
            raise TypeError("an integer is required")
        if area is not None:
            struct.pack_into("=i", area, 0, freq)
        return True

    def spooler_pid():
        return slot(1) if spoolers else 0

    def spooler_pids():
        return [slot(1 + i) for i in range(len(spoolers))]

    def i_am_the_spooler():
        return True if kind == "spooler" else None

    ns["i_am_the_spooler"] = i_am_the_spooler

    if kind == "spooler":
        # as uWSGI's: the spooler may not take user locks (a task holding
        # one would stall every worker waiting for it), checked before the
        # argument is
        def refuse(name):
            def f(*args, **kwargs):
                raise ValueError("The spooler cannot lock/unlock resources")
            f.__name__ = f.__qualname__ = name
            f.__doc__ = getattr(ns.get(name), "__doc__", None)
            return f
        for name in ("lock", "unlock", "is_locked"):
            ns[name] = refuse(name)
    if spoolers:
        ns.update(spool=spool, send_to_spooler=spool, spooler_jobs=spooler_jobs,
                  spooler_pid=spooler_pid, spooler_pids=spooler_pids,
                  set_spooler_frequency=set_spooler_frequency,
                  spooler_get_task=spooler_get_task, spoolers=tuple(spoolers))

    # ------------------------------------------------------------ the spooler's loop

    class Stop(BaseException):
        def __init__(self, code):
            self.code = code

    woken = [False]  # a task was spooled since the scan began

    def control(ctl, timeout):
        """Wait up to timeout seconds for the process's Go side; raise Stop
        when it says to leave ("s" stop, "r" reload); "w" (a task was
        spooled) is remembered in woken."""
        chan = [_master_fd] if _master_fd >= 0 else []  # signals (20_signal.py)
        r, _, _ = select.select([ctl] + chan, [], [], timeout)
        if chan and chan[0] in r:
            _signal_take()
        if ctl not in r:
            return
        for c in os.read(ctl, 64):
            if c == ord("w"):
                woken[0] = True
            if c == ord("s"):
                raise Stop(0)
            if c == ord("r"):
                raise Stop(17)

    def versionkey(name):
        return [(0, int(p), b"") if p.isdigit() else (1, 0, p) for p in re.split(rb"(\d+)", name)]

    def spooler_loop(ctl):
        d = spoolers[index - 1]
        me = d.decode("utf-8", "replace")
        pid = os.getpid()
        ordered = conf.get("ordered", False)
        max_tasks = conf.get("max_tasks", 0)
        tasks = [0]
        # what the stats server shows of this spooler: tasks run since it
        # started, and whether one runs now
        # the master's words for this spooler (cmd/uwsgo/extras.go): tasks run
        # since it started and whether one runs now (the stats server's),
        # and the running task's --spooler-harakiri deadline
        tasks_slot, running_slot, harakiri_slot = (nslots + 3 * (index - 1) + k for k in range(3))
        for k in (tasks_slot, running_slot, harakiri_slot):
            set_slot(k, 0)
        task_dir = conf.get("chdir") or ""
        harakiri = conf.get("harakiri") or 0

        def scan(dirpath):
            try:
                names = os.listdir(dirpath)
            except OSError as e:
                log("[spooler %s pid: %d] cannot read %s: %s" % (me, pid, dirpath.decode("utf-8", "replace"), e.strerror))
                return
            if ordered:
                names.sort(key=versionkey)
            for n in names:
                manage(dirpath, n)
                control(ctl, 0)

        def manage(dirpath, name):
            if not (name.startswith(b"uwsgi_spoolfile_on_") or (ordered and name.isdigit())):
                return
            path = dirpath + b"/" + name
            try:
                st = os.lstat(path)
            except OSError:
                return
            if int(st.st_mtime) > int(time.time()):
                return  # to run later ("at")
            if stat.S_ISDIR(st.st_mode):
                if ordered:
                    scan(path)
                return
            if not stat.S_ISREG(st.st_mode) or not os.access(path, os.R_OK | os.W_OK):
                return
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                return
            try:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return  # being written, or another spooler runs it
                if os.fstat(fd).st_nlink == 0:
                    return  # done and removed by another spooler meanwhile
                t = read_task(path, fd)
                if t is None:
                    return
                if t is False:
                    log("[spooler %s pid: %d] removing the broken task %s" % (me, pid, path.decode("utf-8", "replace")))
                    os.unlink(path)
                    return
                if not quiet:
                    log("[spooler %s pid: %d] managing request %s ..." % (me, pid, name.decode("utf-8", "replace")))
                started = time.time()
                fn = ns.get("spooler")
                ret = 0
                if fn is not None:
                    set_slot(running_slot, 1)
                    if task_dir:
                        try:
                            os.chdir(task_dir)
                        except OSError as e:
                            log("[spooler %s pid: %d] --spooler-chdir %s: %s: the task runs in %s"
                                % (me, pid, task_dir, e.strerror, me))
                    if harakiri > 0:
                        # the master kills this process once it passes
                        set_slot(harakiri_slot, int(time.monotonic()) + harakiri + 1)
                    try:
                        ret = fn(task_dict(name, *t))
                        if not isinstance(ret, int):
                            ret = -1
                    except Exception:
                        traceback.print_exc()
                        ret = -1
                    finally:
                        set_slot(harakiri_slot, 0)
                        set_slot(running_slot, 0)
                        if task_dir:
                            os.chdir(d)
                if ret == 0:
                    log("unable to find the spooler function, have you loaded it into the spooler process ?")
                    return
                tasks[0] += 1
                set_slot(tasks_slot, tasks[0])
                if ret == -2:
                    if not quiet:
                        log("[spooler %s pid: %d] done with task %s after %d seconds"
                            % (me, pid, name.decode("utf-8", "replace"), int(time.time() - started)))
                    os.unlink(path)
            finally:
                os.close(fd)  # and the lock with it
            if max_tasks > 0 and tasks[0] >= max_tasks:
                log("[spooler %s pid: %d] maximum number of tasks reached (%d) recycling ..." % (me, pid, max_tasks))
                raise Stop(17)

        while True:
            os.chdir(d)  # as uWSGI's spooler: tasks run in the spooler directory
            woken[0] = False
            scan(d)
            # a task spooled during the scan may sit behind where it read
            freq = 0 if woken[0] else slot(0) or conf.get("frequency", 30)
            control(ctl, freq)

    # ------------------------------------------------------------ mules

    def mule_id():
        return index if kind == "mule" else 0

    def queue_fd(i, end):
        return queues[2 * i + end]

    def mule_msg(message, mule=None):
        if isinstance(message, str):
            message = message.encode()
        elif not isinstance(message, bytes):
            message = bytes(memoryview(message))
        if not mules:
            raise ValueError("no mule configured")
        if mule is None or (isinstance(mule, int) and mule == 0):
            fd = queue_fd(0, 0)
        elif isinstance(mule, bytes) or isinstance(mule, str):
            f = farms.get(mule.decode("utf-8", "replace") if isinstance(mule, bytes) else mule)
            if f is None:
                raise ValueError("unknown farm")
            fd = f[1]
        elif isinstance(mule, int):
            if mule < 0 or mule > len(mules):
                raise ValueError("invalid mule number: %d (there are %d mules)" % (mule, len(mules)))
            fd = queue_fd(mule, 0)
        else:
            raise ValueError("invalid mule")
        try:
            os.write(fd, message)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                size = socket.socket(fileno=os.dup(fd))
                try:
                    buf = size.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
                finally:
                    size.close()
                log("*** MULE MSG QUEUE IS FULL: buffer size %d bytes ***" % buf)
            else:
                log("mule_msg(): %s" % e.strerror)
            return False
        return True

    def receive(fds, size, timeout):
        """One message from the first of fds that has one, None after
        timeout seconds (None: wait forever); raise Stop when ctl says so."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0, deadline - time.monotonic())
            r, _, _ = select.select(fds, [], [], left)
            if not r:
                return None
            for fd in r:
                if fd == mule_ctl[0]:
                    control(fd, 0)
                    continue
                if fd == _master_fd:
                    _signal_take()  # run the signal handlers here (20_signal.py)
                    continue
                try:
                    return os.read(fd, size)
                except BlockingIOError:
                    continue  # another mule took it

    mule_ctl = [-1]

    def my_farms():
        """The read ends of the queues of the farms this mule is in."""
        return [r for mules_, _, r in farms.values() if index in mules_] if kind == "mule" else []

    def farm_msg(farm, message):
        if isinstance(message, str):
            message = message.encode()
        elif not isinstance(message, bytes):
            message = bytes(memoryview(message))
        f = farms.get(farm)
        if f is not None:  # uWSGI ignores an unknown farm
            try:
                os.write(f[1], message)
            except OSError as e:
                log("write(): %s [farm_msg %s]" % (e.strerror, farm))
        return None

    def farm_get_msg():
        if kind != "mule":
            raise ValueError("you can receive farm messages only in a mule !!!")
        fds = my_farms() + ([mule_ctl[0]] if mule_ctl[0] >= 0 else [])
        return receive(fds, 65536, None)

    def mule_get_msg(signals=True, farms=True, buffer_size=65536, timeout=-1):
        if kind != "mule":
            raise ValueError("you can receive mule messages only in a mule !!!")
        fds = [queue_fd(index, 1), queue_fd(0, 1)] + (my_farms() if farms else []) + \
            ([mule_ctl[0]] if mule_ctl[0] >= 0 else [])
        if signals and _master_fd >= 0:
            fds.append(_master_fd)  # as uWSGI, signals are managed while waiting
        msg = receive(fds, buffer_size, None if timeout < 0 else timeout)
        return b"" if msg is None else msg  # uWSGI 2.0's answer to a timeout

    def mule_loop(ctl):
        patch = mules[index - 1]
        if patch.endswith(".py"):
            import runpy
            runpy.run_path(patch, run_name="__main__")
            return 1
        if ":" in patch:
            import importlib
            mod, _, fn = patch.partition(":")
            getattr(importlib.import_module(mod), fn)()
            return 1
        fds = [ctl, queue_fd(index, 1), queue_fd(0, 1)] + my_farms() + ([_master_fd] if _master_fd >= 0 else [])
        while True:
            msg = receive(fds, 65536, None)
            hook = ns.get("mule_msg_hook")
            if hook is None:
                log("*** mule %d received a %d bytes message ***" % (index, len(msg)))
                continue
            try:
                hook(msg)
            except Exception:
                traceback.print_exc()

    def extra_main(k, i, ctl):
        mule_ctl[0] = ctl
        ns["_signal_who"] = "%s %d" % (k, i)
        try:
            if k == "spooler":
                spooler_loop(ctl)
            return mule_loop(ctl)
        except Stop as s:
            return s.code
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)

    ns.update(mule_id=mule_id, mule_msg=mule_msg, mule_get_msg=mule_get_msg,
              farm_msg=farm_msg, farm_get_msg=farm_get_msg,
              _uwsgo_extra_main=extra_main)


_uwsgo_spooler_setup(globals())
del _uwsgo_spooler_setup
