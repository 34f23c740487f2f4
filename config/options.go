// Package config holds uwsgo's options: the command line (uWSGI's
// spellings), --ini files, and the checks that refuse what makes no sense.
package config

// Options is everything the user asked for.
type Options struct {
	// App loading
	Module     string   // -w/--module/--wsgi: "pkg.mod" or "pkg.mod:callable"
	WSGIFile   string   // --wsgi-file
	Callable   string   // --callable (default "application")
	PythonPath []string // --pythonpath, repeatable
	Chdir      string   // --chdir
	Env        []string // --env K=V, repeatable

	// Sockets
	Sockets     []string // -s/--socket: uwsgi protocol listeners (":3031", "127.0.0.1:3031", "/path/unix.sock")
	HTTPSockets []string // --http-socket and --http: HTTP/1.1 listeners
	Listen      int      // --listen: backlog (default 100)

	// Cores and engines
	Async            int    // --async N (0: one core, no async)
	UGreen           bool   // --ugreen
	UGreenStackPages int    // --ugreen-stacksize in pages (default 64 = 256 KiB)
	UGreenSwitch     string // --ugreen-switch: "fast" (default) or "swapcontext"
	Greenlet         bool   // --greenlet
	Gevent           int    // --gevent N
	GeventMonkey     bool   // --gevent-monkey-patch
	GeventEarly      bool   // --gevent-early-monkey-patch
	Threads          int    // --threads (refused with --gevent)

	// Processes
	Master      bool // -M/--master
	Processes   int  // -p/--processes/--workers (default 1)
	Harakiri    int  // --harakiri seconds (0: off)
	MaxRequests int  // --max-requests (0: unlimited)

	// Files
	StaticMap   []string // --static-map /mount=dir, repeatable
	StaticIndex []string // --static-index name, repeatable

	// Limits and logging
	BufferSize     int  // --buffer-size: max uwsgi packet / header size (default 4096, as uWSGI)
	PostBuffering  int  // --post-buffering: bytes of body kept in memory before spooling to a file (default 1 MiB)
	DisableLogging bool // --disable-logging
}
