// Package procman is uwsgo's process manager: uWSGI's master and workers.
//
// The master (RunMaster) holds no interpreter and never forks a Go process.
// It opens nothing itself: the caller gives it the listening sockets, and
// it starts each worker by running its own binary again (os.Executable(),
// same argv) with the sockets inherited on fds 3, 4, ... in Spec order and
// the worker's identity in UWSGO_* environment variables. A worker is the
// same binary; CurrentWorker tells it so and hands it its listeners, and it
// runs its own interpreter and serves. Because the sockets stay open in the
// master, a worker that dies or reloads never makes a client see
// "connection refused": connections wait in the backlog for the next
// worker.
//
// # What a worker is expected to do
//
//   - Call CurrentWorker early (before the interpreter starts) and serve on
//     Worker.Listeners.
//   - SIGHUP (graceful reload): stop accepting, finish the requests in
//     flight, exit with ExitReload. Reaching --max-requests: the same exit.
//   - SIGINT (stop): leave soon; the master SIGKILLs whatever is left after
//     Spec.StopTimeout. Ctrl-C in a terminal delivers SIGINT to the worker
//     directly as well as through the master, so expect it twice.
//   - With Worker.Heartbeat non-nil (harakiri on), call Beat on every turn
//     of the hub loop.
//   - Select on WatchMaster(w.MasterPID) and exit when it fires.
//
// # Exits, as the master reads them
//
//   - ExitReload (17): respawned at once, logged "reloaded" (during a
//     SIGHUP reload) or "recycled" (max-requests).
//   - Anything else, or a signal: logged ("DAMN ! worker 1 (pid: 124) died,
//     killed by signal 11 (SIGSEGV: segmentation fault) :( trying respawn
//     ...") and respawned; consecutive deaths less than a second after
//     start back off exponentially from 0.1 s to 5 s, and a worker that
//     lives a second resets its back-off.
//
// See RunMaster for the signals the master obeys.
package procman
