package config

//go:generate go run ./readmegen ../README.md

// The option table: every option uwsgo knows, with uWSGI's spellings. It
// drives the parsers (command line, ini, yaml, json, UWSGI_* variables),
// --help and the README's option table (go generate ./config).
//
// To carry out an option marked NotImplemented: read its Options field,
// set its Status to Implemented, and run `go generate ./config` (a test
// fails while README's table differs).

// Kind is how an option's value is read.
type Kind int

const (
	KindString Kind = iota // one value; the last one given wins
	KindInt                // a decimal integer; the last one given wins
	KindFlag               // no value on the command line; in files true/false, 1/0, yes/no, on/off
	KindList               // repeatable: every value is kept, in order
)

// Status says what uwsgo does with an option.
type Status int

const (
	// Implemented: the option does what it does under uWSGI.
	Implemented Status = iota
	// NoOp: accepted, and the banner says why it needs no effect.
	NoOp
	// NotImplemented: accepted with a warning; it has no effect yet.
	NotImplemented
	// Dialect: handled while the configuration is read (includes, logic,
	// placeholders, printing); it has no field of its own.
	Dialect
)

func (s Status) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case NoOp:
		return "accepted, no effect"
	case NotImplemented:
		return "not implemented"
	}
	return "config"
}

// Option is one row of the table.
type Option struct {
	Name     string   // canonical long name
	Aliases  []string // other long names (uWSGI's)
	Short    byte     // uWSGI's one-letter flag, 0 for none
	Kind     Kind
	Optional bool   // the value may be left out (--chmod-socket alone)
	Implicit string // the value of the option given bare, when Optional
	Default  string // shown in --help; the field's default comes from Defaults()
	Arg      string // the value's name in --help (MODE, FILE, N)
	Help     string
	Category string
	Status   Status
	Reason   string // why NoOp, or what NotImplemented lacks (optional)
	Field    string // the Options field it fills ("" for Dialect options)
}

// Categories, in --help order.
const (
	catApp     = "App loading"
	catSockets = "Sockets"
	catCores   = "Cores and engines"
	catProc    = "Processes"
	catLog     = "Logging"
	catServe   = "Requests and static files"
	catTools   = "Tooling"
	catConfig  = "Configuration files and logic"
)

var categories = []string{catApp, catSockets, catCores, catProc, catLog, catServe, catTools, catConfig}

// Defaults, as uWSGI has them (stack size and switch are uwsgo's own).
const (
	DefaultCallable         = "application"
	DefaultProcesses        = 1
	DefaultListen           = 100
	DefaultUGreenStackPages = 64 // 256 KiB with 4 KiB pages
	DefaultUGreenSwitch     = SwitchFast
	DefaultBufferSize       = 4096
	DefaultPostBuffering    = 1 << 20
	DefaultSocketTimeout    = 4
	DefaultHTTPTimeout      = 60
	DefaultMaxVars          = 64
	DefaultReloadMercy      = 60
	DefaultWorkerMercy      = 60
	DefaultLogDate          = "%a %b %d %H:%M:%S %Y" // strftime, as uWSGI's bare --log-date

	SwitchFast        = "fast"        // register-only context switch
	SwitchSwapcontext = "swapcontext" // POSIX swapcontext (one syscall per switch)
)

// Reasons shared by several options.
const (
	whyCheaper  = "uwsgo starts every --processes worker at once and keeps them (no adaptive spawning)"
	whyForkHook = "workers are new processes started with exec, not forks of a master that runs Python"
	whyLazy     = "apps always load in each worker after it starts: workers are the binary run again, never forks of a master that loaded the app"
	whyPlugins  = "plugins are built in"
	whyLeaving  = "a client that leaves costs its request line and nothing more: no write error is logged, the app sees no exception, SIGPIPE never kills a worker"
)

// Builtin plugins: asking for them is silent, since their features are in
// uwsgo already. Any other plugin gets a warning.
var builtinPlugins = map[string]bool{
	"python": true, "python3": true, "ugreen": true, "greenlet": true,
	"greenlet_python3": true, "gevent": true, "gevent_python3": true,
	"http": true, "logfile": true, "router_static": true,
}

// table is the option table, in --help order within each category.
var table = []Option{
	// App loading
	{Name: "module", Aliases: []string{"wsgi"}, Short: 'w', Kind: KindString, Arg: "MODULE", Category: catApp,
		Help: "load a WSGI module (MODULE or MODULE:CALLABLE)", Field: "Module"},
	{Name: "wsgi-file", Aliases: []string{"file"}, Kind: KindString, Arg: "FILE", Category: catApp,
		Help: "load a WSGI file (.py, .wsgi)", Field: "WSGIFile"},
	{Name: "callable", Kind: KindString, Arg: "NAME", Default: DefaultCallable, Category: catApp,
		Help: "name of the WSGI callable in the module or file", Field: "Callable"},
	{Name: "pythonpath", Aliases: []string{"python-path", "pp"}, Kind: KindList, Arg: "DIR", Category: catApp,
		Help: "add DIR to sys.path", Field: "PythonPath"},
	{Name: "chdir", Kind: KindString, Arg: "DIR", Category: catApp,
		Help: "change to DIR before loading the app", Field: "Chdir"},
	{Name: "env", Kind: KindList, Arg: "K=V", Category: catApp,
		Help: "set an environment variable", Field: "Env"},
	{Name: "home", Aliases: []string{"virtualenv", "venv", "pyhome"}, Short: 'H', Kind: KindString, Arg: "DIR", Category: catApp,
		Help: "run the app inside the virtualenv DIR", Field: "Home"},
	{Name: "import", Aliases: []string{"pyimport", "py-import", "python-import"}, Kind: KindList, Arg: "MODULE", Category: catApp,
		Help: "import a Python module in each worker before the app", Status: NotImplemented, Field: "Imports"},
	{Name: "need-app", Kind: KindFlag, Category: catApp,
		Help: "exit non-zero when the app cannot load, even under --master", Field: "NeedApp"},
	{Name: "mount", Kind: KindList, Arg: "/PREFIX=APP", Category: catApp,
		Help: "load APP (a file, or MODULE:CALLABLE) under the URL prefix /PREFIX", Field: "Mounts"},
	{Name: "manage-script-name", Kind: KindFlag, Category: catApp,
		Help: "split SCRIPT_NAME and PATH_INFO by the mount points", Field: "ManageScriptName"},
	{Name: "no-default-app", Kind: KindFlag, Category: catApp,
		Help: "do not fall back to the first app when no mount point matches", Field: "NoDefaultApp"},
	{Name: "py-autoreload", Aliases: []string{"python-autoreload", "py-auto-reload"}, Kind: KindInt, Arg: "SECONDS", Category: catApp,
		Help: "reload the workers when a module of the app changes, checking every SECONDS", Field: "PyAutoReload"},
	{Name: "touch-reload", Kind: KindList, Arg: "FILE", Category: catApp,
		Help: "reload the workers when FILE is touched", Field: "TouchReload"},
	{Name: "lazy-apps", Kind: KindFlag, Category: catApp,
		Help: "load the app in each worker", Status: NoOp, Reason: whyLazy},
	{Name: "lazy", Kind: KindFlag, Category: catApp,
		Help: "load the app in each worker", Status: NoOp, Reason: whyLazy},
	{Name: "single-interpreter", Short: 'i', Kind: KindFlag, Category: catApp,
		Help: "use one interpreter per worker", Status: NoOp,
		Reason: "uwsgo runs one interpreter per worker and never creates sub-interpreters"},
	{Name: "enable-threads", Short: 'T', Kind: KindFlag, Category: catApp,
		Help: "let the app start Python threads (always on: the GIL exists from the start and the worker releases it while it waits)"},
	{Name: "py-call-osafterfork", Kind: KindFlag, Category: catApp,
		Help: "run Python's after-fork hooks in the workers", Status: NoOp, Reason: whyForkHook},
	{Name: "py-call-uwsgi-fork-hooks", Kind: KindFlag, Category: catApp,
		Help: "run Python's fork hooks around uWSGI's forks", Status: NoOp, Reason: whyForkHook},

	// Sockets
	{Name: "socket", Aliases: []string{"uwsgi-socket"}, Short: 's', Kind: KindList, Arg: "ADDR", Category: catSockets,
		Help: "uwsgi-protocol listener: :3031, 127.0.0.1:3031, /path/app.sock", Field: "Sockets"},
	{Name: "http-socket", Aliases: []string{"http"}, Kind: KindList, Arg: "ADDR", Category: catSockets,
		Help: "HTTP/1.1 listener (--http too: uwsgo has no separate HTTP router process)", Field: "HTTPSockets"},
	{Name: "http11-socket", Kind: KindList, Arg: "ADDR", Category: catSockets,
		Help: "HTTP/1.1 listener with keep-alive", Field: "HTTP11Sockets"},
	{Name: "protocol", Aliases: []string{"socket-protocol"}, Kind: KindString, Arg: "NAME", Category: catSockets,
		Help: "protocol of the --socket listeners: uwsgi or http", Field: "Protocol"},
	{Name: "listen", Short: 'l', Kind: KindInt, Arg: "N", Default: "100", Category: catSockets,
		Help: "socket listen backlog", Field: "Listen"},
	{Name: "vacuum", Kind: KindFlag, Category: catSockets,
		Help: "remove unix sockets and pidfiles at exit", Field: "Vacuum"},
	{Name: "chmod-socket", Aliases: []string{"chmod"}, Short: 'C', Kind: KindString, Optional: true, Implicit: "666", Arg: "MODE", Category: catSockets,
		Help: "chmod unix sockets to MODE (alone: 666)", Field: "ChmodSocket"},
	{Name: "chown-socket", Kind: KindString, Arg: "USER[:GROUP]", Category: catSockets,
		Help: "chown unix sockets", Field: "ChownSocket"},
	{Name: "uid", Kind: KindString, Arg: "USER", Category: catSockets,
		Help: "drop to this user (name or number) after binding the sockets", Field: "UID"},
	{Name: "gid", Kind: KindString, Arg: "GROUP", Category: catSockets,
		Help: "drop to this group (name or number) after binding the sockets", Field: "GID"},
	{Name: "umask", Kind: KindString, Arg: "MODE", Category: catSockets,
		Help: "set the umask (octal) before binding the sockets", Field: "Umask"},
	{Name: "socket-timeout", Short: 'z', Kind: KindInt, Arg: "SECONDS", Default: "4", Category: catSockets,
		Help: "close a uwsgi-protocol connection whose packet is not whole, or whose body stalls, this long", Field: "SocketTimeout"},
	{Name: "http-timeout", Kind: KindInt, Arg: "SECONDS", Default: "60", Category: catSockets,
		Help: "answer 408 to an HTTP request whose head is not whole, or whose body stalls, this long", Field: "HTTPTimeout"},
	{Name: "thunder-lock", Kind: KindFlag, Category: catSockets,
		Help: "serialize accept() between workers", Status: NoOp,
		Reason: "uwsgo's workers do not share an accept lock: each idle worker accepts without blocking, so there is nothing to serialize"},
	{Name: "no-defer-accept", Kind: KindFlag, Category: catSockets,
		Help: "do not defer accept() until data arrives (TCP listeners get TCP_DEFER_ACCEPT for --socket-timeout seconds otherwise, as in uWSGI)", Field: "NoDeferAccept"},
	{Name: "http-keepalive", Kind: KindInt, Optional: true, Implicit: "1", Arg: "N", Category: catSockets,
		Help: "keep HTTP/1.1 connections alive", Status: NoOp,
		Reason: "uwsgo's HTTP sockets keep HTTP/1.1 connections alive already"},
	{Name: "websockets-max-size", Aliases: []string{"websocket-max-size"}, Kind: KindInt, Arg: "KiB", Default: "1024", Category: catSockets,
		Help: "close a websocket whose message is over this size (1009)", Field: "WSMaxSize"},
	{Name: "websockets-ping-freq", Aliases: []string{"websocket-ping-freq"}, Kind: KindInt, Arg: "SECONDS", Default: "30", Category: catSockets,
		Help: "ping every websocket client this often (0: never)", Field: "WSPingFreq"},
	{Name: "websockets-pong-tolerance", Aliases: []string{"websocket-pong-tolerance"}, Kind: KindInt, Arg: "SECONDS", Default: "3", Category: catSockets,
		Help: "drop a websocket client that has not answered a ping within this long", Field: "WSPongTolerance"},
	{Name: "http-websockets", Kind: KindFlag, Category: catSockets,
		Help: "let the HTTP router pass websockets", Status: NoOp,
		Reason: "--http is an HTTP socket of the workers here, and it passes websockets to the app as it is"},
	{Name: "http-auto-gzip", Kind: KindFlag, Category: catSockets,
		Help: "gzip responses marked by the app", Status: NotImplemented},

	// Cores and engines
	{Name: "async", Kind: KindInt, Arg: "N", Category: catCores,
		Help: "N async cores (concurrent requests) per worker", Field: "Async"},
	{Name: "ugreen", Kind: KindFlag, Category: catCores,
		Help: "suspend engine: uGreen green threads on their own C stacks", Field: "UGreen"},
	{Name: "ugreen-stacksize", Kind: KindInt, Arg: "PAGES", Default: "64", Category: catCores,
		Help: "uGreen stack size in memory pages", Field: "UGreenStackPages"},
	{Name: "ugreen-switch", Kind: KindString, Arg: "fast|swapcontext", Default: DefaultUGreenSwitch, Category: catCores,
		Help: "uGreen context switch", Field: "UGreenSwitch"},
	{Name: "greenlet", Kind: KindFlag, Category: catCores,
		Help: "suspend engine: greenlet", Field: "Greenlet"},
	{Name: "gevent", Kind: KindInt, Arg: "N", Category: catCores,
		Help: "run gevent's loop with N async cores", Field: "Gevent"},
	{Name: "gevent-monkey-patch", Kind: KindFlag, Category: catCores,
		Help: "call gevent.monkey.patch_all() once the app is loaded, before it serves", Field: "GeventMonkey"},
	{Name: "gevent-early-monkey-patch", Kind: KindFlag, Category: catCores,
		Help: "call gevent.monkey.patch_all() before anything else is imported", Field: "GeventEarly"},
	{Name: "threads", Kind: KindInt, Arg: "N", Category: catCores,
		Help: "N Python threads per worker, each serving one request at a time (not with --gevent, --async N, --ugreen, --greenlet)", Field: "Threads"},
	{Name: "offload-threads", Kind: KindInt, Arg: "N", Category: catCores,
		Help: "threads that write responses for the workers", Status: NoOp,
		Reason: "uwsgo writes responses and static files (non-blocking sendfile) from the worker's event loop: a slow client blocks nothing"},

	// Processes
	{Name: "master", Short: 'M', Kind: KindFlag, Category: catProc,
		Help: "run a master process that manages the workers", Field: "Master"},
	{Name: "processes", Aliases: []string{"workers"}, Short: 'p', Kind: KindInt, Arg: "N", Default: "1", Category: catProc,
		Help: "number of worker processes", Field: "Processes"},
	{Name: "harakiri", Short: 't', Kind: KindInt, Arg: "SECONDS", Category: catProc,
		Help: "kill and respawn a worker stuck on one request longer than this", Field: "Harakiri"},
	{Name: "harakiri-verbose", Kind: KindFlag, Category: catProc,
		Help: "log more about a harakiri", Field: "HarakiriVerbose"},
	{Name: "max-requests", Short: 'R', Kind: KindInt, Arg: "N", Category: catProc,
		Help: "recycle a worker after N requests", Field: "MaxRequests"},
	{Name: "max-worker-lifetime", Kind: KindInt, Arg: "SECONDS", Category: catProc,
		Help: "recycle a worker after this long", Field: "MaxWorkerLifetime"},
	{Name: "reload-on-rss", Kind: KindInt, Arg: "MEGABYTES", Category: catProc,
		Help: "recycle a worker whose resident memory grows past this", Field: "ReloadOnRSS"},
	{Name: "reload-mercy", Kind: KindInt, Arg: "SECONDS", Default: "60", Category: catProc,
		Help: "how long a reload waits for the workers", Field: "ReloadMercy"},
	{Name: "worker-reload-mercy", Kind: KindInt, Arg: "SECONDS", Default: "60", Category: catProc,
		Help: "how long a recycled worker may take to finish", Field: "WorkerReloadMercy"},
	{Name: "mule-reload-mercy", Kind: KindInt, Arg: "SECONDS", Category: catProc,
		Help: "how long a mule may take to reload", Status: NoOp, Reason: "a mule reloads within --worker-reload-mercy, as the workers do"},
	{Name: "spooler", Short: 'Q', Kind: KindList, Arg: "DIR", Category: catProc,
		Help: "run a spooler on DIR (made if missing; repeatable)", Field: "Spoolers"},
	{Name: "spooler-processes", Kind: KindInt, Arg: "N", Default: "1", Category: catProc,
		Help: "spooler processes per --spooler directory", Field: "SpoolerProcesses"},
	{Name: "spooler-frequency", Aliases: []string{"spooler-freq"}, Kind: KindInt, Arg: "SECONDS", Default: "30", Category: catProc,
		Help: "how often an idle spooler scans its directory", Field: "SpoolerFrequency"},
	{Name: "spooler-ordered", Kind: KindFlag, Category: catProc,
		Help: "run tasks in name order, and the priority subdirectories' tasks", Field: "SpoolerOrdered"},
	{Name: "spooler-quiet", Kind: KindFlag, Category: catProc,
		Help: "do not log each spooler task", Field: "SpoolerQuiet"},
	{Name: "spooler-max-tasks", Kind: KindInt, Arg: "N", Category: catProc,
		Help: "recycle a spooler after N tasks", Field: "SpoolerMaxTasks"},
	{Name: "spooler-chdir", Kind: KindString, Arg: "DIR", Category: catProc,
		Help: "run each spooler task in DIR (default: its spooler directory)", Field: "SpoolerChdir"},
	{Name: "spooler-harakiri", Kind: KindInt, Arg: "SECONDS", Category: catProc,
		Help: "kill (and respawn) a spooler whose task runs longer than this", Field: "SpoolerHarakiri"},
	{Name: "mule", Kind: KindList, Optional: true, Arg: "FILE.py", Category: catProc,
		Help: "add a mule: bare, it waits for messages; with FILE.py or MODULE:CALLABLE, it runs that (repeatable)", Field: "Mules"},
	{Name: "mules", Kind: KindInt, Arg: "N", Category: catProc,
		Help: "add N mules that wait for messages", Field: "MulesN"},
	{Name: "farm", Kind: KindList, Arg: "NAME:MULE,...", Category: catProc,
		Help: "group mules (by number) into a farm that shares one message queue (repeatable)", Field: "Farms"},
	{Name: "no-orphans", Kind: KindFlag, Category: catProc,
		Help: "workers exit when the master dies", Field: "NoOrphans"},
	{Name: "die-on-term", Kind: KindFlag, Category: catProc,
		Help: "stop on SIGTERM (uwsgo always does)", Field: "DieOnTerm"},
	{Name: "exit-on-reload", Kind: KindFlag, Category: catProc,
		Help: "exit instead of reloading", Status: NotImplemented},
	{Name: "reload-on-exception", Kind: KindFlag, Category: catProc,
		Help: "recycle a worker whose app raised", Status: NotImplemented},
	{Name: "hook-master-start", Kind: KindList, Arg: "ACTION", Category: catProc,
		Help: "run ACTION when the master starts (unix_signal:15 gracefully_kill_them_all)", Field: "HookMasterStart"},
	{Name: "pidfile", Kind: KindString, Arg: "FILE", Category: catProc,
		Help: "write the master's pid to FILE", Field: "Pidfile"},
	{Name: "pidfile2", Kind: KindString, Arg: "FILE", Category: catProc,
		Help: "write the master's pid to FILE after privileges drop", Field: "Pidfile2"},
	{Name: "daemonize", Short: 'd', Kind: KindString, Arg: "LOGFILE", Category: catProc,
		Help: "run in the background, logging to LOGFILE", Field: "Daemonize"},
	{Name: "daemonize2", Kind: KindString, Arg: "LOGFILE", Category: catProc,
		Help: "run in the background once the app is loaded", Field: "Daemonize2"},
	{Name: "auto-procname", Kind: KindFlag, Category: catProc,
		Help: "name the processes uWSGI's way (uWSGI master, uWSGI worker 1)", Field: "AutoProcname"},
	{Name: "procname", Kind: KindString, Arg: "NAME", Category: catProc,
		Help: "name the processes NAME", Field: "Procname"},
	{Name: "procname-prefix", Kind: KindString, Arg: "PREFIX", Category: catProc,
		Help: "prefix the process names", Field: "ProcnamePrefix"},
	{Name: "procname-prefix-spaced", Kind: KindString, Arg: "PREFIX", Category: catProc,
		Help: "prefix the process names with PREFIX and a space", Field: "ProcnamePrefixSpaced"},
	{Name: "procname-append", Kind: KindString, Arg: "SUFFIX", Category: catProc,
		Help: "append SUFFIX to the process names", Field: "ProcnameAppend"},
	{Name: "procname-master", Kind: KindString, Arg: "NAME", Category: catProc,
		Help: "name the master NAME", Field: "ProcnameMaster"},
	{Name: "cheaper", Kind: KindInt, Arg: "N", Category: catProc,
		Help: "keep only N workers when idle", Status: NoOp, Reason: whyCheaper, Field: "Cheaper"},
	{Name: "cheaper-initial", Kind: KindInt, Arg: "N", Category: catProc,
		Help: "workers started first in cheaper mode", Status: NoOp, Reason: whyCheaper, Field: "CheaperInitial"},
	{Name: "cheaper-step", Kind: KindInt, Arg: "N", Category: catProc,
		Help: "workers added at a time in cheaper mode", Status: NoOp, Reason: whyCheaper, Field: "CheaperStep"},
	{Name: "cheaper-overload", Kind: KindInt, Arg: "SECONDS", Category: catProc,
		Help: "cheaper mode's overload window", Status: NoOp, Reason: whyCheaper, Field: "CheaperOverload"},
	{Name: "cheaper-algo", Kind: KindString, Arg: "NAME", Category: catProc,
		Help: "cheaper mode's algorithm", Status: NoOp, Reason: whyCheaper, Field: "CheaperAlgo"},

	// Logging
	{Name: "disable-logging", Short: 'L', Kind: KindFlag, Category: catLog,
		Help: "no request log lines", Field: "DisableLogging"},
	{Name: "logto", Kind: KindString, Arg: "FILE", Category: catLog,
		Help: "log to FILE instead of stderr", Field: "Logto"},
	{Name: "logto2", Kind: KindString, Arg: "FILE", Category: catLog,
		Help: "log to FILE, opened after privileges drop", Field: "Logto2"},
	{Name: "log-date", Aliases: []string{"logdate"}, Kind: KindString, Optional: true, Implicit: DefaultLogDate, Arg: "FORMAT", Category: catLog,
		Help: "prefix log lines with the date (strftime FORMAT)", Field: "LogDate"},
	{Name: "log-format", Aliases: []string{"logformat"}, Kind: KindString, Arg: "FORMAT", Category: catLog,
		Help: "request log line with uWSGI's %(var) variables", Field: "LogFormat"},
	{Name: "log-format-strftime", Aliases: []string{"logformat-strftime"}, Kind: KindFlag, Category: catLog,
		Help: "apply strftime to the request log line", Status: NotImplemented, Field: "LogFormatStrftime"},
	{Name: "log-x-forwarded-for", Kind: KindFlag, Category: catLog,
		Help: "log the X-Forwarded-For address as the client's", Field: "LogXForwardedFor"},
	{Name: "req-logger", Kind: KindList, Arg: "file:PATH", Category: catLog,
		Help: "send request log lines to a logger", Field: "ReqLoggers"},
	{Name: "logger", Kind: KindList, Arg: "file:PATH", Category: catLog,
		Help: "send log lines to a logger", Field: "Loggers"},
	{Name: "log-4xx", Kind: KindFlag, Category: catLog,
		Help: "log requests answered 4xx even with disable-logging", Field: "Log4xx"},
	{Name: "log-5xx", Kind: KindFlag, Category: catLog,
		Help: "log requests answered 5xx even with disable-logging", Field: "Log5xx"},
	{Name: "log-slow", Kind: KindInt, Arg: "MILLISECONDS", Category: catLog,
		Help: "log requests slower than this even with disable-logging", Field: "LogSlow"},
	{Name: "log-master", Kind: KindFlag, Category: catLog,
		Help: "let the master write the workers' logs", Status: NoOp,
		Reason: "the workers write to the master's own stderr (or log file) already"},
	{Name: "log-maxsize", Kind: KindInt, Arg: "BYTES", Category: catLog,
		Help: "rotate the log file at this size", Status: NotImplemented},
	{Name: "logfile-chown", Kind: KindFlag, Category: catLog,
		Help: "chown the log file to --uid/--gid", Status: NotImplemented},
	{Name: "memory-report", Short: 'm', Kind: KindInt, Optional: true, Implicit: "1", Arg: "N", Category: catLog,
		Help: "add the worker's memory to the request log lines", Field: "MemoryReport"},

	// Requests and static files
	{Name: "static-map", Kind: KindList, Arg: "/MOUNT=DIR", Category: catServe,
		Help: "serve the files of DIR under the URL path /MOUNT", Field: "StaticMap"},
	{Name: "static-index", Kind: KindList, Arg: "NAME", Category: catServe,
		Help: "index file for directories, e.g. index.html", Field: "StaticIndex"},
	{Name: "check-static", Kind: KindList, Arg: "DIR", Category: catServe,
		Help: "serve a file of DIR when the request path names one", Field: "CheckStatic"},
	{Name: "static-gzip-all", Kind: KindFlag, Category: catServe,
		Help: "serve FILE.gz for FILE when the client accepts gzip", Field: "StaticGzipAll"},
	{Name: "static-expires-type", Kind: KindList, Arg: "MIME=SECONDS", Category: catServe,
		Help: "Expires for static files of a type", Field: "StaticExpiresType"},
	{Name: "static-expires-type-mtime", Kind: KindList, Arg: "MIME=SECONDS", Category: catServe,
		Help: "Expires from the file's mtime, by type", Field: "StaticExpiresTypeMtime"},
	{Name: "static-expires", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires for static files whose name matches", Field: "StaticExpires"},
	{Name: "static-expires-mtime", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires from the file's mtime, by file name", Field: "StaticExpiresMtime"},
	{Name: "static-expires-uri", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires for static files whose URI matches", Field: "StaticExpiresURI"},
	{Name: "static-expires-uri-mtime", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires from the file's mtime, by URI", Field: "StaticExpiresURIMtime"},
	{Name: "static-expires-path-info", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires for static files whose PATH_INFO matches", Field: "StaticExpiresPathInfo"},
	{Name: "static-expires-path-info-mtime", Kind: KindList, Arg: "REGEXP SECONDS", Category: catServe,
		Help: "Expires from the file's mtime, by PATH_INFO", Field: "StaticExpiresPathInfoMtime"},
	{Name: "add-header", Kind: KindList, Arg: "'NAME: VALUE'", Category: catServe,
		Help: "add a header to every response", Field: "AddHeaders"},
	{Name: "buffer-size", Short: 'b', Kind: KindInt, Arg: "BYTES", Default: "4096", Category: catServe,
		Help: "largest request header block / uwsgi packet", Field: "BufferSize"},
	{Name: "post-buffering", Kind: KindInt, Arg: "BYTES", Default: "1048576", Category: catServe,
		Help: "request body kept in memory before it goes to a temporary file", Field: "PostBuffering"},
	{Name: "limit-post", Kind: KindInt, Arg: "BYTES", Category: catServe,
		Help: "answer 413 to a request body larger than this (a Content-Length over it before any body byte is read; 0: no limit)", Field: "LimitPost"},
	{Name: "max-vars", Short: 'v', Kind: KindInt, Arg: "N", Default: "64", Category: catServe,
		Help: "answer 431 to a request with more header fields (HTTP; trailer fields apart) or vars (uwsgi packet) than this", Field: "MaxVars"},
	{Name: "ignore-sigpipe", Kind: KindFlag, Category: catServe,
		Help: "do not report SIGPIPE", Status: NoOp,
		Reason: whyLeaving, Field: "IgnoreSigpipe"},
	{Name: "ignore-write-errors", Kind: KindFlag, Category: catServe,
		Help: "do not report write errors to clients that left", Status: NoOp,
		Reason: whyLeaving, Field: "IgnoreWriteErrors"},
	{Name: "disable-write-exception", Kind: KindFlag, Category: catServe,
		Help: "do not raise in the app when a client left", Status: NoOp,
		Reason: whyLeaving, Field: "DisableWriteException"},
	{Name: "cache2", Kind: KindList, Arg: "name=NAME,items=N[,blocksize=BYTES,keysize=BYTES,...]", Category: catServe,
		Help: "create a cache shared by the workers (uwsgi.cache_*)", Field: "Cache2"},
	{Name: "cache", Kind: KindInt, Arg: "N", Category: catServe,
		Help: "create the cache named default, with N items (uWSGI's old-style cache)", Field: "Cache"},
	{Name: "cache-blocksize", Kind: KindInt, Arg: "BYTES", Default: "65536", Category: catServe,
		Help: "largest value of the --cache cache", Field: "CacheBlocksize"},
	{Name: "locks", Kind: KindInt, Arg: "N", Category: catServe,
		Help: "user locks 1 to N besides lock 0, shared by the workers (uwsgi.lock)", Field: "Locks"},
	{Name: "cache-expire-freq", Kind: KindInt, Arg: "SECONDS", Category: catServe,
		Help: "how often uWSGI's sweeper drops expired cache keys", Status: NoOp,
		Reason: "an expired cache key is gone the moment it expires: there is no sweeper to schedule"},
	{Name: "cache-store", Kind: KindString, Arg: "FILE", Category: catServe,
		Help: "keep the --cache cache in FILE across restarts", Status: NotImplemented,
		Reason: "caches live in memory only (see the README: store= is out of scope)"},

	// Tooling
	{Name: "stats", Aliases: []string{"stats-server"}, Kind: KindString, Arg: "ADDR", Category: catTools,
		Help: "serve uWSGI's stats JSON (uwsgitop) on ADDR", Field: "Stats"},
	{Name: "stats-http", Kind: KindFlag, Category: catTools,
		Help: "serve the stats over HTTP", Field: "StatsHTTP"},
	{Name: "stats-push", Kind: KindList, Arg: "SPEC", Category: catTools,
		Help: "push the stats somewhere", Status: NotImplemented},
	{Name: "plugins", Aliases: []string{"plugin", "need-plugins", "need-plugin"}, Kind: KindList, Arg: "NAME[,NAME]", Category: catTools,
		Help: "load plugins: python3, gevent, http and the others uWSGI ships for Python are built in", Status: Dialect, Field: "Plugins"},
	{Name: "plugins-dir", Aliases: []string{"plugin-dir"}, Kind: KindList, Arg: "DIR", Category: catTools,
		Help: "where plugins are looked for", Status: NoOp, Reason: whyPlugins},
	{Name: "show-config", Kind: KindFlag, Category: catTools,
		Help: "print the configuration as ini (after expansion) at start", Status: Dialect, Field: "ShowConfig"},
	{Name: "print", Kind: KindList, Arg: "TEXT", Category: catTools,
		Help: "print TEXT (placeholders expanded) at start", Status: Dialect},
	{Name: "strict", Kind: KindFlag, Category: catTools,
		Help: "unknown options and placeholders are errors", Status: Dialect, Field: "Strict"},
	{Name: "help", Aliases: []string{"usage"}, Short: 'h', Kind: KindFlag, Category: catTools,
		Help: "print this help and exit", Status: Dialect},
	{Name: "version", Kind: KindFlag, Category: catTools,
		Help: "print the version and exit", Status: Dialect},

	// Configuration files and logic
	{Name: "ini", Kind: KindList, Arg: "FILE[:SECTION]", Category: catConfig,
		Help: "read options from the [uwsgi] section of an ini file (:SECTION another section, of the last file when FILE is empty)", Status: Dialect},
	{Name: "yaml", Aliases: []string{"yml"}, Short: 'y', Kind: KindList, Arg: "FILE[:KEY]", Category: catConfig,
		Help: "read options from the uwsgi mapping of a YAML file", Status: Dialect},
	{Name: "json", Aliases: []string{"js"}, Short: 'j', Kind: KindList, Arg: "FILE[:KEY]", Category: catConfig,
		Help: "read options from the uwsgi object of a JSON file", Status: Dialect},
	{Name: "include", Aliases: []string{"inherit"}, Kind: KindList, Arg: "FILE", Category: catConfig,
		Help: "read a configuration file of any of the three kinds (by its extension)", Status: Dialect},
	{Name: "set", Aliases: []string{"set-placeholder", "set-ph"}, Short: 'S', Kind: KindList, Arg: "NAME=VALUE", Category: catConfig,
		Help: "set a placeholder for %(NAME)", Status: Dialect},
	{Name: "if-env", Kind: KindString, Arg: "VAR[=VALUE]", Category: catConfig,
		Help: "the options up to endif count when VAR is set (to VALUE)", Status: Dialect},
	{Name: "if-not-env", Kind: KindString, Arg: "VAR[=VALUE]", Category: catConfig,
		Help: "the options up to endif count when VAR is not set (to VALUE)", Status: Dialect},
	{Name: "if-opt", Kind: KindString, Arg: "OPT[=VALUE]", Category: catConfig,
		Help: "the options up to endif count when OPT was given (as VALUE)", Status: Dialect},
	{Name: "if-not-opt", Kind: KindString, Arg: "OPT[=VALUE]", Category: catConfig,
		Help: "the options up to endif count when OPT was not given (as VALUE)", Status: Dialect},
	{Name: "if-exists", Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH exists", Status: Dialect},
	{Name: "if-not-exists", Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH does not exist", Status: Dialect},
	{Name: "if-file", Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH is a file", Status: Dialect},
	{Name: "if-not-file", Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH is not a file", Status: Dialect},
	{Name: "if-dir", Aliases: []string{"if-directory"}, Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH is a directory", Status: Dialect},
	{Name: "if-not-dir", Kind: KindString, Arg: "PATH", Category: catConfig,
		Help: "the options up to endif count when PATH is not a directory", Status: Dialect},
	{Name: "if-hostname", Kind: KindString, Arg: "NAME", Category: catConfig,
		Help: "the options up to endif count on the host NAME", Status: Dialect},
	{Name: "if-not-hostname", Kind: KindString, Arg: "NAME", Category: catConfig,
		Help: "the options up to endif count on other hosts", Status: Dialect},
	{Name: "if-plugin", Kind: KindString, Arg: "NAME", Category: catConfig,
		Help: "the options up to endif count when plugin NAME is built in", Status: Dialect},
	{Name: "if-not-plugin", Kind: KindString, Arg: "NAME", Category: catConfig,
		Help: "the options up to endif count when plugin NAME is not built in", Status: Dialect},
	{Name: "else", Kind: KindString, Optional: true, Category: catConfig,
		Help: "the options up to endif count when the if before failed", Status: Dialect},
	{Name: "endif", Aliases: []string{"end-if"}, Kind: KindString, Optional: true, Category: catConfig,
		Help: "end an if-* block", Status: Dialect},
	{Name: "for", Kind: KindString, Arg: "A B C", Category: catConfig,
		Help: "repeat the options up to endfor for each word, as %(_)", Status: Dialect},
	{Name: "for-glob", Kind: KindString, Arg: "PATTERN", Category: catConfig,
		Help: "repeat the options up to endfor for each matching path, as %(_)", Status: Dialect},
	{Name: "for-readline", Kind: KindString, Arg: "FILE", Category: catConfig,
		Help: "repeat the options up to endfor for each line of FILE, as %(_)", Status: Dialect},
	{Name: "for-times", Kind: KindString, Arg: "N", Category: catConfig,
		Help: "repeat the options up to endfor N times, %(_) counting from 1", Status: Dialect},
	{Name: "endfor", Aliases: []string{"end-for"}, Kind: KindString, Optional: true, Category: catConfig,
		Help: "end a for block", Status: Dialect},
}

// Table returns the option table (a copy: the table itself is fixed).
func Table() []Option { return append([]Option(nil), table...) }

var (
	byName  map[string]*Option
	byShort map[byte]*Option
)

func init() {
	byName = map[string]*Option{}
	byShort = map[byte]*Option{}
	for i := range table {
		o := &table[i]
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			if byName[n] != nil {
				panic("config: option name used twice: " + n)
			}
			byName[n] = o
		}
		if o.Short != 0 {
			if byShort[o.Short] != nil {
				panic("config: short flag used twice: " + string(o.Short))
			}
			byShort[o.Short] = o
		}
	}
}

// Lookup returns the option spelled name (any alias), or nil.
func Lookup(name string) *Option { return byName[name] }

// Names returns the canonical name and the aliases.
func (o *Option) Names() []string { return append([]string{o.Name}, o.Aliases...) }
