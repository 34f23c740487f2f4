# uWSGI's signal framework, timers, cron, file monitors and local rpc.
#
# A signal is a number, 0-255. A process registers a handler for it and a
# target (register_signal); the master keeps the targets and routes every
# raised signal (signal(), a timer, a cron entry, a file monitor) to the
# process(es) the target names, where the handler runs on a free core
# (_signal_run, started by the hub like a request). All of it is messages
# on this process's channel to the master (_master_fd, a SOCK_SEQPACKET
# socket: one os.write is one message; procman/channel.go has the layout).

import operator as _operator
import os as _os
import struct as _struct
import sys as _sys
import traceback as _traceback

_signal_handlers = {}  # signum -> handler, registered in this process
_signal_received = {}  # core id -> the signal signal_wait() last returned
_signal_waiters = []   # signal_wait()s in progress (_SignalWaiter)


_signal_who = None  # "spooler 1", "mule 2": set by the spooler's and mules' loop


def _signal_where():
    return _signal_who or 'worker %d' % worker_id()


def _signum(num, fn):
    # uWSGI reads the number as a C byte and silently wraps 256 to 0 and
    # -1 to 255; a number out of range is refused here instead.
    try:
        n = _operator.index(num)
    except TypeError:
        raise TypeError('uwsgi.%s(): the signal number must be an integer, not %s'
                        % (fn, type(num).__name__)) from None
    if not 0 <= n <= 255:
        raise ValueError('uwsgi.%s(): signal number %d is out of range: uWSGI signals are 0-255' % (fn, n))
    return n


# the real select.select, kept before an app's monkey-patching (gevent)
# can replace it: waiting for the master must not switch greenlets
_select = __import__('select').select
_monotonic = __import__('time').monotonic


def _to_master(msg, fn):
    if _master_fd < 0:
        raise ValueError('uwsgi.%s(): signals, timers and monitors need the master process (--master)' % fn)
    deadline = None
    while True:
        try:
            _os.write(_master_fd, msg)
            return
        except BlockingIOError:
            pass
        except OSError as e:
            raise OSError(e.errno, 'uwsgi.%s(): the master cannot be reached: %s' % (fn, e.strerror)) from None
        # The socket buffer to the master is full (a burst): the master
        # reads all the time, so wait for room rather than lose the
        # message; give up only if it stops reading altogether.
        now = _monotonic()
        if deadline is None:
            deadline = now + 10
        if now >= deadline:
            print('*** SIGNAL QUEUE IS FULL: uwsgi.%s() dropped (the master is not reading) ***' % fn,
                  file=_sys.stderr)
            return
        _select([], [_master_fd], [], deadline - now)


_signal_targets = ('', 'worker', 'worker0', 'workers', 'active-workers', 'spooler', 'mule', 'mule0', 'mules')


def _valid_target(t):
    if t in _signal_targets:
        return True
    for kind in ('worker', 'mule'):
        rest = t[len(kind):]
        if t.startswith(kind) and rest.isdigit() and rest.isascii() and str(int(rest)) == rest and int(rest) > 0:
            return True
    return False


def register_signal(num, target, handler):
    """register_signal(num, target, handler): run handler(num) when signal
    num is raised, in the process(es) target names: '' or 'worker' (one
    worker), 'workerN', 'workers', 'active-workers', 'spooler', 'mule',
    'muleN', 'mules'."""
    n = _signum(num, 'register_signal')
    if not isinstance(target, str):
        raise TypeError('uwsgi.register_signal(): the target must be a str, not %s' % type(target).__name__)
    if not _valid_target(target):
        raise ValueError("uwsgi.register_signal(): unable to register signal %d: unknown target %r "
                         "(worker, workerN, workers, active-workers, spooler, mule, muleN, mules)" % (n, target))
    if not callable(handler):
        raise TypeError('uwsgi.register_signal(): the handler must be callable, not %s' % type(handler).__name__)
    _to_master(b'r' + bytes((n,)) + target.encode('ascii'), 'register_signal')
    _signal_handlers[n] = handler


def signal_registered(num):
    """signal_registered(num): True when this process has a handler for
    num, else None (as uWSGI)."""
    return True if _signum(num, 'signal_registered') in _signal_handlers else None


def signal(num, remote=None):
    """signal(num): raise signal num; the master routes it to its target."""
    n = _signum(num, 'signal')
    if remote is not None:
        raise OSError('uwsgi.signal(%d, %r): signals to other nodes are not supported by uwsgo' % (n, remote))
    if n not in _signal_handlers and not _signal_known(n):
        raise ValueError('uwsgi.signal(): signal %d is not registered (register it first: '
                         'uwsgi.register_signal(%d, target, handler))' % (n, n))
    _to_master(b's' + bytes((n,)), 'signal')


def _seconds(secs, fn):
    try:
        s = _operator.index(secs)
    except TypeError:
        raise TypeError('uwsgi.%s(): the period must be an integer number of seconds, not %s'
                        % (fn, type(secs).__name__)) from None
    if not 1 <= s <= 0xffffffff:
        raise ValueError('uwsgi.%s(): unable to add timer: the period must be at least 1 second, not %d' % (fn, s))
    return s


def add_timer(num, secs):
    """add_timer(num, secs): the master raises num every secs seconds."""
    n = _signum(num, 'add_timer')
    s = _seconds(secs, 'add_timer')
    _to_master(b't' + bytes((n,)) + _struct.pack('<I', s), 'add_timer')
    return None


def add_rb_timer(num, secs, iterations=0):
    """add_rb_timer(num, secs, iterations=0): like add_timer, stopping
    after iterations times (0: never)."""
    n = _signum(num, 'add_rb_timer')
    s = _seconds(secs, 'add_rb_timer')
    it = _operator.index(iterations)
    if not 0 <= it <= 0xffffffff:
        raise ValueError('uwsgi.add_rb_timer(): unable to add rb_timer: iterations must be 0 (forever) or more, not %d' % it)
    _to_master(b'b' + bytes((n,)) + _struct.pack('<II', s, it), 'add_rb_timer')
    return None


_cron_fields = (('minute', 59), ('hour', 23), ('day', 31), ('month', 12), ('weekday', 7))


def add_cron(num, minute, hour, day, month, week):
    """add_cron(num, minute, hour, day, month, weekday): raise num when the
    local time matches, as crontab does; -1 is any value, -N every N-th."""
    n = _signum(num, 'add_cron')
    vals = []
    for (name, top), v in zip(_cron_fields, (minute, hour, day, month, week)):
        try:
            v = _operator.index(v)
        except TypeError:
            raise TypeError('uwsgi.add_cron(): the %s must be an integer, not %s' % (name, type(v).__name__)) from None
        low = 1 if name in ('day', 'month') else 0
        if v == 0 and low == 1 or v > top or v < -top - 1 or v < -32768:
            raise ValueError('uwsgi.add_cron(): unable to add cron: %s %d is out of range (%d-%d, -1 for any, -N for every N)'
                             % (name, v, low, top))
        vals.append(v)
    _to_master(b'c' + bytes((n,)) + _struct.pack('<5h', *vals), 'add_cron')
    return None


def add_file_monitor(num, path):
    """add_file_monitor(num, path): raise num when path (a file, or a
    directory's entries) changes."""
    n = _signum(num, 'add_file_monitor')
    if not isinstance(path, str):
        raise TypeError('uwsgi.add_file_monitor(): the path must be a str, not %s' % type(path).__name__)
    raw = _os.fsencode(path)
    if not raw or len(raw) > 254:
        raise ValueError('uwsgi.add_file_monitor(): unable to add file monitor: the path must be 1-254 bytes long')
    _to_master(b'f' + bytes((n,)) + raw, 'add_file_monitor')
    return None


def _signal_dispatch(n):
    handler = _signal_handlers.get(n)
    if handler is None:
        print('error managing signal %d on %s: no handler registered here' % (n, _signal_where()), file=_sys.stderr)
    else:
        try:
            handler(n)
        except Exception as e:
            # the traceback from the handler down, as uWSGI prints it
            _traceback.print_exception(type(e), e, e.__traceback__.tb_next)
            print('error managing signal %d on %s' % (n, _signal_where()), file=_sys.stderr)
    for w in list(_signal_waiters):
        if w.want is None or w.want == n:
            w.wake(n)


def _signal_run(environ, start_response):
    # A job: the hub runs it on a free core, as it runs a request, when
    # the master sends this process a signal.
    _signal_dispatch(int(environ['UWSGI_SIGNAL']))
    start_response('200 OK', [])
    return []


class _SignalWaiter:
    """One signal_wait() parked on its core until _signal_dispatch wakes
    it: by the engine's own means, so the other cores (and the handler,
    on one of them) go on meanwhile."""

    def __init__(self, want):
        self.want, self.got = want, None
        if _engine == 'gevent':
            import gevent.event
            self.ev = gevent.event.Event()
        elif _engine == 'threads':
            import threading
            self.ev = threading.Event()
        else:  # ugreen, greenlet: park on a pipe
            self.ev = None
            self.r, self.w = _os.pipe()

    def wake(self, n):
        if self.got is not None:
            return
        self.got = n
        if self.ev is not None:
            self.ev.set()
        else:
            _os.write(self.w, b'!')

    def wait(self):
        try:
            if self.ev is not None:
                self.ev.wait()
            else:
                while self.got is None:
                    wait_fd_read(self.r)
                    suspend()
        finally:
            if self.ev is None:
                _os.close(self.r)
                _os.close(self.w)
        return self.got


def _signal_take():
    # The spooler and the mules have no hub: their loop waits on the
    # channel too and calls this when it is readable, to run the
    # handlers of the signals sent to them there and then.
    while True:
        try:
            msg = _os.read(_master_fd, 4096)
        except BlockingIOError:
            return
        if not msg:
            return  # the master is gone; the process follows it
        if msg[0] == 0x53 and len(msg) == 2:  # MsgRun
            _signal_dispatch(msg[1])
        elif msg[0] == 0x4b:  # MsgKnown
            _signal_mark_known(msg[1:])


def _signal_wait_here(want):
    # No engine to park on (--async alone, or one core): wait on the
    # channel itself and run the handlers inline, as uWSGI does.
    import select
    while True:
        select.select([_master_fd], [], [])
        try:
            msg = _os.read(_master_fd, 4096)
        except BlockingIOError:
            continue
        if not msg:
            raise SystemError('error waiting for signal: the master is gone')
        if msg[0] == 0x53 and len(msg) == 2:  # MsgRun
            _signal_dispatch(msg[1])
            if want is None or want == msg[1]:
                return msg[1]
        elif msg[0] == 0x4b:  # MsgKnown
            _signal_mark_known(msg[1:])


def signal_wait(*args):
    """signal_wait([num]): wait until this process is sent signal num (or
    any signal) and its handler has run; signal_received() then says
    which. Returns b''."""
    if len(args) > 1:
        raise TypeError('uwsgi.signal_wait() takes at most 1 argument (%d given)' % len(args))
    want = _signum(args[0], 'signal_wait') if args else None
    if _master_fd < 0:
        raise ValueError('uwsgi.signal_wait(): signals need the master process (--master)')
    core = core_id()
    _signal_received[core] = -1
    if _engine == 'async':
        n = _signal_wait_here(want)
    else:
        w = _SignalWaiter(want)
        _signal_waiters.append(w)
        try:
            n = w.wait()
        finally:
            _signal_waiters.remove(w)
    _signal_received[core] = n
    return b''


def signal_received():
    """signal_received(): the signal the last signal_wait() of this core
    returned for (-1 while waiting)."""
    return _signal_received.get(core_id(), 0)


# ------------------------------------------------------------ rpc (local)

_rpc_functions = {}  # name (bytes) -> function, in registration order
_rpc_max = 64        # uWSGI's --rpc-max default


def register_rpc(name, func, argc=0):
    """register_rpc(name, func, argc=0): make func callable by name
    through rpc(None, name, ...) and call(name, ...)."""
    if not isinstance(name, str):
        raise TypeError('uwsgi.register_rpc(): the name must be a str, not %s' % type(name).__name__)
    key = name.encode('utf-8')
    if len(key) >= 255 or b'\0' in key:
        raise ValueError('uwsgi.register_rpc(): unable to register rpc function %r: the name must be under 255 bytes' % name)
    if key not in _rpc_functions and len(_rpc_functions) >= _rpc_max:
        raise ValueError('uwsgi.register_rpc(): unable to register rpc function %r: at most %d functions' % (name, _rpc_max))
    if not callable(func):
        raise TypeError('uwsgi.register_rpc(): the function must be callable, not %s' % type(func).__name__)
    _rpc_functions[key] = func
    print('registered RPC function "%s" on %s' % (name, _signal_where()), file=_sys.stderr)
    return True


def _rpc_call(func, args):
    if not isinstance(func, bytes) or len(args) > 255 or not all(isinstance(a, bytes) for a in args):
        raise ValueError('unable to call rpc function (the name and the arguments must be bytes)')
    f = _rpc_functions.get(func)
    if f is None:
        return None
    try:
        ret = f(*args)
    except Exception as e:
        _traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        return None
    # uWSGI passes on only non-empty bytes
    return ret if isinstance(ret, bytes) and ret else None


def rpc(node, func, *args):
    """rpc(node, func, *args): call rpc function func (bytes) with bytes
    arguments; node None or '' is this process (other nodes are not
    supported). Returns bytes, or None."""
    if node not in (None, '', b''):
        raise OSError('uwsgi.rpc(%r, ...): rpc to other nodes is not supported by uwsgo (node None or "" is the local one)' % (node,))
    return _rpc_call(func, args)


def call(func, *args):
    """call(func, *args): rpc on this process."""
    return _rpc_call(func, args)


def rpc_list():
    """rpc_list(): the names (bytes) of the registered rpc functions."""
    return tuple(_rpc_functions)
