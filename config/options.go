// Package config holds uwsgo's options: one table (table.go) with uWSGI's
// spellings drives the command line, --ini/--yaml/--json files, UWSGI_*
// variables, --help and the README's option table; Load turns them into
// Options and refuses what makes no sense.
package config

// Options is everything the user asked for. Each field is filled from the
// option named in its comment (table.go ties names to fields); an option
// that is accepted but not carried out yet still fills its field, so the
// code that implements it only has to read it and flip its status.
type Options struct {
	// App loading
	Module     string   // -w/--module/--wsgi: "pkg.mod" or "pkg.mod:callable"
	WSGIFile   string   // --wsgi-file/--file
	Callable   string   // --callable (default "application")
	PythonPath []string // --pythonpath, repeatable
	Chdir      string   // --chdir
	Env        []string // --env K=V, repeatable
	Home       string   // -H/--home/--virtualenv/--venv/--pyhome
	Imports    []string // --import/--pyimport/--py-import/--python-import
	NeedApp    bool     // --need-app
	Mounts     []string // --mount /PREFIX=APP, repeatable
	// ManageScriptName: --manage-script-name
	ManageScriptName bool
	NoDefaultApp     bool     // --no-default-app
	PyAutoReload     int      // --py-autoreload/--python-autoreload/--py-auto-reload SECONDS (0: off)
	TouchReload      []string // --touch-reload FILE, repeatable

	// Sockets
	Sockets       []string // -s/--socket/--uwsgi-socket: uwsgi protocol listeners (":3031", "127.0.0.1:3031", "/path/unix.sock", "@abstract")
	HTTPSockets   []string // --http-socket and --http: HTTP/1.1 listeners
	HTTP11Sockets []string // --http11-socket
	Protocol      string   // --protocol/--socket-protocol: protocol of the --socket listeners ("uwsgi", "http")
	Listen        int      // -l/--listen: backlog (default 100)
	Vacuum        bool     // --vacuum: remove unix sockets and pidfiles at exit
	ChmodSocket   string   // -C/--chmod-socket/--chmod MODE (bare: "666"; "" = not given)
	ChownSocket   string   // --chown-socket USER[:GROUP]
	UID           string   // --uid NAME|NUMBER
	GID           string   // --gid NAME|NUMBER
	Umask         string   // --umask MODE (octal, as given)
	SocketTimeout int      // -z/--socket-timeout SECONDS (default 4)
	HTTPTimeout   int      // --http-timeout SECONDS (default 60)
	NoDeferAccept bool     // --no-defer-accept: no TCP_DEFER_ACCEPT on TCP listeners
	LimitPost     int64    // --limit-post BYTES (0: no limit)

	WSMaxSize       int // --websockets-max-size KiB (default 1024)
	WSPingFreq      int // --websockets-ping-freq SECONDS (default 30; 0: never)
	WSPongTolerance int // --websockets-pong-tolerance SECONDS (default 3)

	// Cores and engines
	Async            int    // --async N (0: one core, no async)
	UGreen           bool   // --ugreen
	UGreenStackPages int    // --ugreen-stacksize in pages (default 64 = 256 KiB)
	UGreenSwitch     string // --ugreen-switch: "fast" (default) or "swapcontext"
	Greenlet         bool   // --greenlet
	Gevent           int    // --gevent N
	GeventMonkey     bool   // --gevent-monkey-patch
	GeventEarly      bool   // --gevent-early-monkey-patch
	Threads          int    // --threads N: N request threads per worker (not with --gevent, --async, --ugreen, --greenlet)

	// Processes
	Master            bool     // -M/--master
	Processes         int      // -p/--processes/--workers (default 1)
	Harakiri          int      // -t/--harakiri seconds (0: off)
	HarakiriVerbose   bool     // --harakiri-verbose
	MaxRequests       int      // -R/--max-requests (0: unlimited)
	MaxWorkerLifetime int      // --max-worker-lifetime SECONDS (0: forever)
	ReloadOnRSS       int      // --reload-on-rss MEGABYTES (0: off)
	ReloadMercy       int      // --reload-mercy SECONDS (default 60)
	WorkerReloadMercy int      // --worker-reload-mercy SECONDS (default 60)
	NoOrphans         bool     // --no-orphans
	DieOnTerm         bool     // --die-on-term
	HookMasterStart   []string // --hook-master-start ACTION, repeatable
	Pidfile           string   // --pidfile (written before privileges drop)
	Pidfile2          string   // --pidfile2 (written after)
	Daemonize         string   // -d/--daemonize LOGFILE
	Daemonize2        string   // --daemonize2 LOGFILE (after the app loads)
	AutoProcname      bool     // --auto-procname
	Procname          string   // --procname
	ProcnamePrefix    string   // --procname-prefix
	// ProcnamePrefixSpaced: --procname-prefix-spaced (the prefix and a space)
	ProcnamePrefixSpaced string
	ProcnameAppend       string // --procname-append
	ProcnameMaster       string // --procname-master
	Cheaper              int    // --cheaper N (accepted: every worker starts)
	CheaperInitial       int    // --cheaper-initial N
	CheaperStep          int    // --cheaper-step N
	CheaperOverload      int    // --cheaper-overload SECONDS
	CheaperAlgo          string // --cheaper-algo NAME
	MemoryReport         int    // -m/--memory-report (bare: 1)

	// Spooler and mules
	Spoolers         []string // -Q/--spooler DIR, repeatable
	SpoolerProcesses int      // --spooler-processes N (0: 1)
	SpoolerFrequency int      // --spooler-frequency SECONDS (0: 30)
	SpoolerOrdered   bool     // --spooler-ordered
	SpoolerQuiet     bool     // --spooler-quiet
	SpoolerMaxTasks  int      // --spooler-max-tasks N (0: never recycle)
	SpoolerChdir     string   // --spooler-chdir DIR: the current directory of each task
	SpoolerHarakiri  int      // --spooler-harakiri SECONDS: a task running longer kills its spooler
	Mules            []string // --mule [FILE.py|MODULE:CALLABLE], repeatable ("" bare)
	MulesN           int      // --mules N
	Farms            []string // --farm NAME:MULE[,MULE...], repeatable

	// Requests and serving
	StaticMap              []string // --static-map /mount=dir, repeatable
	StaticIndex            []string // --static-index name, repeatable
	CheckStatic            []string // --check-static DIR, repeatable
	StaticGzipAll          bool     // --static-gzip-all
	StaticExpiresType      []string // --static-expires-type "MIME SECONDS"
	StaticExpiresTypeMtime []string // --static-expires-type-mtime "MIME SECONDS"
	StaticExpires          []string // --static-expires "REGEXP SECONDS" (on the file name)
	StaticExpiresMtime     []string // --static-expires-mtime
	StaticExpiresURI       []string // --static-expires-uri
	StaticExpiresURIMtime  []string // --static-expires-uri-mtime
	StaticExpiresPathInfo  []string // --static-expires-path-info
	// StaticExpiresPathInfoMtime: --static-expires-path-info-mtime
	StaticExpiresPathInfoMtime []string
	AddHeaders                 []string // --add-header "Name: value", repeatable
	IgnoreSigpipe              bool     // --ignore-sigpipe
	IgnoreWriteErrors          bool     // --ignore-write-errors
	DisableWriteException      bool     // --disable-write-exception
	Cache2                     []string // --cache2 name=...,items=..., repeatable
	Cache                      int      // --cache N: the cache "default" (0: none)
	CacheBlocksize             int      // --cache-blocksize (0: 65536)
	Locks                      int      // --locks N: user locks 0..N

	// Limits and logging
	BufferSize        int      // -b/--buffer-size: max uwsgi packet / header size (default 4096, as uWSGI)
	MaxVars           int      // --max-vars: most header fields / uwsgi vars, 431 past it (default 64, as uWSGI)
	PostBuffering     int      // --post-buffering: bytes of body kept in memory before spooling to a file (default 1 MiB)
	DisableLogging    bool     // -L/--disable-logging
	Logto             string   // --logto FILE
	Logto2            string   // --logto2 FILE (after privileges drop)
	LogDate           string   // --log-date [FORMAT] (bare: "%a %b %d %H:%M:%S %Y"; "" = off)
	LogFormat         string   // --log-format/--logformat with %(var) request variables
	LogFormatStrftime bool     // --log-format-strftime/--logformat-strftime
	LogXForwardedFor  bool     // --log-x-forwarded-for
	ReqLoggers        []string // --req-logger file:PATH, repeatable
	Loggers           []string // --logger file:PATH, repeatable
	Log4xx            bool     // --log-4xx
	Log5xx            bool     // --log-5xx
	LogSlow           int      // --log-slow MILLISECONDS (0: off)

	// Tooling
	Stats      string   // --stats ADDR
	StatsHTTP  bool     // --stats-http
	Plugins    []string // --plugins/--plugin/--need-plugins NAME[,NAME...], as given
	Strict     bool     // --strict
	ShowConfig bool     // --show-config

	// Raw is every option as the user gave it, after the dialect is
	// expanded (placeholders, includes, if/for), in order, under the
	// spelling used: uwsgi.opt is built from it as uWSGI builds it.
	Raw []Entry
	// Magic is uWSGI's magic-variable table (%d, %n, %h, ...) of the last
	// configuration file read, or the one it starts with when none was:
	// uwsgi.magic_table.
	Magic map[byte]string
	// Accepted lists the options given that uwsgo accepts without
	// carrying them out, each with the reason; the banner prints them.
	Accepted []Note
	// Warnings are the one-line warnings of the load (unknown options,
	// options not implemented), already printed by Load's caller.
	Warnings []string
}

// Entry is one option as given: its spelling, its value after expansion,
// and where it came from. Bare is true for a flag given without a value
// (uwsgi.opt holds True for it).
type Entry struct {
	Key   string
	Value string
	Bare  bool
	From  Source
}

// Note is an accepted option that has no effect, and why.
type Note struct {
	Option string // the canonical name
	Reason string
}

// OptValue is one key of uwsgi.opt: its values in order; a flag given
// bare is a nil entry (uwsgi.opt holds True for it).
type OptValue struct {
	Key    string
	Values []*string
}

// Opt groups Raw by key, in the order the keys first appear, as uWSGI
// builds uwsgi.opt: one value stays one value, a repeated key is a list.
func (o *Options) Opt() []OptValue {
	var out []OptValue
	at := map[string]int{}
	for _, e := range o.Raw {
		i, ok := at[e.Key]
		if !ok {
			i = len(out)
			at[e.Key] = i
			out = append(out, OptValue{Key: e.Key})
		}
		var v *string
		if !e.Bare {
			s := e.Value
			v = &s
		}
		out[i].Values = append(out[i].Values, v)
	}
	return out
}
