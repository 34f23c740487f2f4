package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/hub"
	"github.com/uwsgo/uwsgo/logsink"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/pyhost"
	"github.com/uwsgo/uwsgo/server"
	"github.com/uwsgo/uwsgo/shm"
)

// socketSpec is one listener: its address and protocol, in the order
// listeners are opened by the master and inherited by the workers.
type socketSpec struct {
	addr string
	kind server.Kind
}

// socketSpecs lists the listeners: --socket ones speak uwsgi unless
// --socket-protocol (--protocol) says http; --http-socket and
// --http11-socket speak HTTP/1.1 (with keep-alive, so they are the same).
func socketSpecs(o *config.Options, e *effects) ([]socketSpec, error) {
	kind := server.UWSGI
	switch p := strings.ToLower(e.protocol); p {
	case "", "uwsgi":
	case "http", "http11":
		kind = server.HTTP
	default:
		return nil, fmt.Errorf("--socket-protocol %q: uwsgo speaks uwsgi and http (http11) on its sockets", e.protocol)
	}
	var specs []socketSpec
	for _, a := range o.Sockets {
		specs = append(specs, socketSpec{a, kind})
	}
	for _, a := range o.HTTPSockets {
		specs = append(specs, socketSpec{a, server.HTTP})
	}
	for _, a := range e.httpSockets {
		specs = append(specs, socketSpec{a, server.HTTP})
	}
	return specs, nil
}

// logger carries uwsgo's own lines (stderr, dated with --log-date).
var logger = log.New(os.Stderr, "", 0)

func say(format string, a ...any) { logger.Printf(format, a...) }

func kindName(k server.Kind) string {
	if k == server.HTTP {
		return "http"
	}
	return "uwsgi"
}

func run(o *config.Options) error {
	e := effectsOf(o)
	lg, err := newLogger(e)
	if err != nil {
		return err
	}
	logger = lg
	if e.umask != "" {
		mask, err := parseUmask(e.umask)
		if err != nil {
			return err
		}
		syscall.Umask(mask)
	}
	var spoolDirs []string // before --chdir: uWSGI reads them from where it started
	if _, isWorker := procman.CurrentWorker(); !isWorker {
		if spoolDirs, err = spoolerDirs(o); err != nil {
			return err
		}
	}
	if o.Chdir != "" {
		if err := os.Chdir(o.Chdir); err != nil {
			return fmt.Errorf("--chdir: %w", err)
		}
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	specs, err := socketSpecs(o, e)
	if err != nil {
		return err
	}
	if w, ok := procman.CurrentWorker(); ok {
		procman.MasterChannel() // takes its variable out of the environment too
		// the spooler and the mules have the locks and caches too
		if err := workerShm(o); err != nil {
			return err
		}
		if w.Extra != "" {
			return runExtra(o, w)
		}
		lns, err := inheritedListeners(w.Listeners)
		if err != nil {
			return err
		}
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
		return runWorker(o, e, specs, lns, w, w.ReqLog, sigs)
	}

	// The process the user started. Its signals are caught from here on,
	// so that a stop that comes early still removes what --vacuum should.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	// Everything that can be refused is checked before anything starts.
	if err := checkMountFiles(o); err != nil {
		return err
	}
	cr, err := resolveCreds(e)
	if err != nil {
		return err
	}
	sockOpt, err := socketOptions(e, o.Listen)
	if err != nil {
		return err
	}
	if !o.NoDeferAccept {
		// uWSGI's default: accept returns once the request is there
		sockOpt.DeferAccept = o.SocketTimeout
	}
	shmSp, err := shmSpec(o, func(w string) { say("%s", w) })
	if err != nil {
		return err
	}
	if cr != nil && e.chownSocket == "" {
		// uWSGI drops privileges before it binds (unless chown-socket is
		// set), so its socket files belong to --uid/--gid. uwsgo binds
		// first (a port below 1024 works) and gives the files the same
		// owner.
		sockOpt.UID, sockOpt.GID = cr.uid, cr.gid
	}
	for _, h := range e.hooks {
		if !isGracefulTermHook(h) {
			say("*** WARNING: hook-master-start %q is not implemented (only unix_signal:15 gracefully_kill_them_all) ***", h)
		}
	}
	var loggerFiles []string
	for _, l := range e.loggers {
		if path, ok := logsink.FileTarget(l); ok {
			loggerFiles = append(loggerFiles, path)
		} else if l != "stdio" && l != "stderr" {
			say("*** WARNING: logger %q is not implemented (only file:PATH and stdio): logging to stderr ***", l)
		}
	}
	var reqLogPath string
	for _, l := range e.reqLoggers {
		if path, ok := logsink.FileTarget(l); ok {
			reqLogPath = path
		} else if l != "stdio" && l != "stderr" {
			say("*** WARNING: req-logger %q is not implemented (only file:PATH and stdio): request lines go to stderr ***", l)
		}
	}
	if !isDaemon() && (e.daemonize != "" || e.daemonize2 != "") {
		path, wait := e.daemonize, false
		if path == "" {
			path, wait = e.daemonize2, true
		}
		code, err := daemonize(path, wait)
		if err != nil {
			return &exitError{code: code, err: err}
		}
		return &exitError{code: code, err: errors.New("daemonized"), silent: true}
	}
	for _, path := range append([]string{e.logto}, loggerFiles...) {
		if err := redirectLog(path, "--logto"); err != nil {
			return err
		}
	}
	var reqLog *os.File
	if reqLogPath != "" {
		if reqLog, err = logsink.OpenFile(reqLogPath); err != nil {
			return fmt.Errorf("--req-logger: %w", err)
		}
		defer reqLog.Close()
	}

	lns := make([]net.Listener, len(specs))
	var created []string // what --vacuum removes
	defer func() {
		if e.vacuum {
			vacuum(created, say)
		}
	}()
	for i, s := range specs {
		ln, err := server.ListenSocket(s.addr, sockOpt)
		if err != nil {
			return fmt.Errorf("cannot bind %s socket %s: %w", kindName(s.kind), s.addr, err)
		}
		lns[i] = ln
		if f := server.SocketFile(s.addr); f != "" {
			created = append(created, f)
		}
	}
	var statsLn net.Listener
	if o.Stats != "" {
		var err error
		if statsLn, err = procman.ListenStats(o.Stats); err != nil {
			return err
		}
	}
	if e.pidfile != "" {
		if err := writePidfile(e.pidfile); err != nil {
			return fmt.Errorf("--pidfile %s: %w", e.pidfile, err)
		}
		created = append(created, e.pidfile)
	}
	if err := cr.drop(say); err != nil {
		return err
	}
	if e.pidfile2 != "" {
		if err := writePidfile(e.pidfile2); err != nil {
			return fmt.Errorf("--pidfile2 %s: %w", e.pidfile2, err)
		}
		created = append(created, e.pidfile2)
	}
	if err := redirectLog(e.logto2, "--logto2"); err != nil {
		return err
	}
	extras, err := setupExtras(o, spoolDirs)
	if err != nil {
		return err
	}
	if extras != nil {
		o.Master = true // the spooler and mules need the master, as in uWSGI
	}
	banner(o, e, specs, lns)
	area, err := shm.Create(shmSp) // before any worker: they all share it
	if err != nil {
		return err
	}
	shmBanner(area)
	if withMaster(o) {
		files := make([]*os.File, len(lns))
		for i, ln := range lns {
			f, err := listenerFile(ln)
			if err != nil {
				return err
			}
			files[i] = f
			ln.Close() // the dup in f keeps the socket open
		}
		var mountpoints []string
		for _, a := range appsOf(o) {
			mountpoints = append(mountpoints, a.Mount)
		}
		_, cores := engineFor(o)
		protos := make([]string, len(specs))
		for i, s := range specs {
			protos[i] = kindName(s.kind)
		}
		daemonReady()
		code := procman.RunMaster(procman.Spec{
			Processes:         o.Processes,
			Listeners:         files,
			SocketProtos:      protos,
			Harakiri:          time.Duration(o.Harakiri) * time.Second,
			Logger:            logger,
			ReloadMercy:       time.Duration(e.reloadMercy) * time.Second,
			MaxWorkerLifetime: time.Duration(e.maxWorkerLifetime) * time.Second,
			HarakiriVerbose:   e.harakiriVerbose,
			Names:             e.names,
			GracefulTerm:      e.gracefulTerm,
			ReqLog:            reqLog,
			Signals:           sigs,
			NeedApp:           o.NeedApp,
			TouchReload:       o.TouchReload,
			Stats:             statsLn,
			StatsHTTP:         o.StatsHTTP,
			Apps:              mountpoints,
			Cores:             cores,
			Version:           Version,
			Extras:            extras.list(),
			Env:               extras.environ(),
			Inherit:           extras.files(),
			ExtraStarted:      extras.onStart(),
			SpoolerState:      extras.stateOf(),
			Shared:            []procman.SharedFile{{Env: shm.EnvFD, File: area.File}},
		})
		if code != 0 {
			return &exitError{code: code, err: fmt.Errorf("master exited with status %d", code)}
		}
		return nil
	}
	if err := attachShm(area); err != nil {
		return err
	}
	return runWorker(o, e, specs, lns, nil, reqLog, sigs)
}

// redirectLog points stdout and stderr at a log file ("" does nothing).
func redirectLog(path, opt string) error {
	if path == "" {
		return nil
	}
	f, err := logsink.OpenFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", opt, err)
	}
	defer f.Close()
	if err := logsink.Redirect(f); err != nil {
		return fmt.Errorf("%s %s: %w", opt, path, err)
	}
	return nil
}

// appsOf lists the worker's apps: the main one (-w/--wsgi-file), then
// each --mount in order, as uWSGI loads them.
func appsOf(o *config.Options) []hub.App {
	var apps []hub.App
	if o.Module != "" || o.WSGIFile != "" {
		apps = append(apps, hub.App{Module: o.Module, WSGIFile: o.WSGIFile, Callable: o.Callable})
	}
	for _, m := range o.Mounts {
		mount, target, _ := strings.Cut(m, "=")
		a := hub.App{Mount: mount, Callable: o.Callable}
		if strings.HasSuffix(target, ".py") || strings.HasSuffix(target, ".wsgi") {
			a.WSGIFile = target
		} else {
			a.Module, a.Callable, _ = strings.Cut(target, ":")
		}
		apps = append(apps, a)
	}
	return apps
}

func appName(a hub.App) string {
	if a.WSGIFile != "" {
		return a.WSGIFile
	}
	return a.Module
}

// checkMountFiles refuses, before anything starts, a --mount whose file
// is not there (one line; with --master the workers would otherwise
// retry it forever).
func checkMountFiles(o *config.Options) error {
	for _, a := range appsOf(o) {
		if a.Mount == "" || a.WSGIFile == "" {
			continue
		}
		if st, err := os.Stat(a.WSGIFile); err != nil {
			return fmt.Errorf("--mount %s=%s: unable to load app: %w", a.Mount, a.WSGIFile, errors.Unwrap(err))
		} else if st.IsDir() {
			return fmt.Errorf("--mount %s=%s: unable to load app: it is a directory", a.Mount, a.WSGIFile)
		}
	}
	return nil
}

// withMaster: a master runs the workers with --master, several
// processes, or an option only a master carries out (stats, reloads).
func withMaster(o *config.Options) bool {
	return o.Master || o.Processes > 1 || masterReason(o) != ""
}

func masterReason(o *config.Options) string {
	switch {
	case o.Stats != "":
		return "--stats"
	case o.PyAutoReload > 0:
		return "--py-autoreload"
	case len(o.TouchReload) > 0:
		return "--touch-reload"
	}
	return ""
}

func listenerFile(ln net.Listener) (*os.File, error) {
	switch l := ln.(type) {
	case *net.TCPListener:
		return l.File()
	case *net.UnixListener:
		l.SetUnlinkOnClose(false)
		return l.File()
	}
	return nil, fmt.Errorf("cannot pass a %T to workers", ln)
}

func inheritedListeners(files []*os.File) ([]net.Listener, error) {
	lns := make([]net.Listener, len(files))
	for i, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("inherited socket %d: %w", i, err)
		}
		f.Close()
		lns[i] = ln
	}
	return lns, nil
}

func banner(o *config.Options, e *effects, specs []socketSpec, lns []net.Listener) {
	wd, _ := os.Getwd()
	say("*** Starting uwsgo %s (%dbit) on [%s] ***\n", Version, 64,
		time.Now().Format("Mon Jan _2 15:04:05 2006"))
	say("detected number of CPU cores: %d\n", runtime.NumCPU())
	say("current working directory: %s\n", wd)
	say("detected binary path: %s\n", exePath())
	for i, s := range specs {
		say("%s socket %d bound to %s (listen backlog %d)\n", kindName(s.kind), i, lns[i].Addr(), o.Listen)
	}
	engine, cores := engineFor(o)
	mode := "preforking"
	switch {
	case engine == pyhost.EngineThreads:
		mode = "threaded"
		if o.Processes > 1 {
			mode = "preforking+threaded"
		}
	case cores > 1 || engine != pyhost.EngineAsync:
		mode = "async"
	}
	say("*** Operational MODE: %s ***\n", mode)
	say("Python version: %s\n", pyhost.PythonVersion())
	switch engine {
	case pyhost.EngineUGreen:
		say("uGreen: %d green threads, stack %d KiB (%d pages) with guard pages, %s switch\n",
			cores, o.UGreenStackPages*os.Getpagesize()/1024, o.UGreenStackPages, o.UGreenSwitch)
	case pyhost.EngineGreenlet:
		say("greenlet engine: %d cores\n", cores)
	case pyhost.EngineGevent:
		say("gevent loop engine: %d async cores (monkey patching: %v)\n", cores, o.GeventMonkey || o.GeventEarly)
	case pyhost.EngineThreads:
		say("threads: %d per worker\n", cores)
	default:
		if cores > 1 {
			say("async: %d cores\n", cores)
			say("*** WARNING: async mode without a suspend engine (--ugreen or --greenlet): uwsgi.suspend() does nothing, the app must yield to let other cores run ***\n")
		}
	}
	if withMaster(o) {
		say("master process enabled, %d worker(s)\n", o.Processes)
		if !o.Master && o.Processes == 1 {
			say("(the master is on for %s: it serves the stats and reloads the workers)\n", masterReason(o))
		}
	}
	printAccepted(logger.Writer(), o)
}

func exePath() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}

// runWorker runs one worker: the hub (interpreter) and the network plane.
// acceptSettle is how long a stopping worker lets connections it has just
// accepted deliver their request before it closes the idle ones.
const acceptSettle = 100 * time.Millisecond

func runWorker(o *config.Options, e *effects, specs []socketSpec, lns []net.Listener, w *procman.Worker, reqLog *os.File, sigs chan os.Signal) error {
	// The sockets leave their net.Listeners now, so that uwsgi.sockets
	// names the fds the server accepts on.
	fds := make([]int, len(lns))
	for i, ln := range lns {
		fd, err := server.DetachListener(ln)
		if err != nil {
			return fmt.Errorf("socket %s: %w", specs[i].addr, err)
		}
		fds[i] = fd
	}
	engine, cores := engineFor(o)
	switchMode := pyhost.SwitchFast
	if o.UGreenSwitch == config.SwitchSwapcontext {
		switchMode = pyhost.SwitchSwapcontext
	}
	settings := pyhost.Settings{
		Program:      exePath(),
		PythonPath:   o.PythonPath,
		Engine:       engine,
		Cores:        cores,
		GeventMonkey: o.GeventMonkey,
		GeventEarly:  o.GeventEarly,
		StackPages:   o.UGreenStackPages,
		SwitchMode:   switchMode,
		WorkerID:     1,
		NumProc:      o.Processes,
		Version:      moduleVersion,
		Opt:          pythonOpt(o),
		Home:         o.Home,
		BufferSize:   o.BufferSize,
		StartedOn:    procman.StartedOn().Unix(),
		Sockets:      fds,
		Magic:        o.Magic,
		ArgvArea:     procman.ArgvArea(),
	}
	if w != nil {
		settings.WorkerID, settings.NumProc, settings.MasterPID = w.ID, w.NumProc, w.MasterPID
		settings.IsAReload = w.IsAReload
		settings.Slots, settings.SlotWords, settings.SlotApps, settings.SlotCores = w.Heartbeat.Area()
	}

	reload := make(chan string, 1) // why the worker recycles itself
	recycle := func(why string) {
		select {
		case reload <- why:
		default:
		}
	}
	var srv *server.Server
	loadStart := time.Now()
	nloaded := 0
	hcfg := hub.Config{
		Python:           settings,
		Apps:             appsOf(o),
		ManageScriptName: o.ManageScriptName,
		NoDefaultApp:     o.NoDefaultApp,
		AppLoaded: func(a hub.App, err error) error {
			if err != nil {
				if a.Mount != "" {
					err = fmt.Errorf("--mount %s=%s: %w", a.Mount, appName(a), err)
				}
				if o.NeedApp {
					return &exitError{code: procman.ExitNoApp, err: fmt.Errorf("%w (need-app: GAME OVER)", err)}
				}
				return err
			}
			say("WSGI app %d (mountpoint='%s') ready in %d seconds: %s:%s, pid: %d, cores: %d\n",
				nloaded, a.Mount, int(time.Since(loadStart).Seconds()), appName(a), a.Callable, os.Getpid(), cores)
			nloaded++
			loadStart = time.Now()
			return nil
		},
		MaxRequests: o.MaxRequests,
		OnMaxRequests: func() {
			// Called on the hub thread as the last request finishes, before
			// its client can come back: stop accepting now so the next
			// connection goes to the next worker (with a master) and the
			// count is exact.
			srv.StopAccepting()
			recycle(fmt.Sprintf("max requests reached (%d)", o.MaxRequests))
		},
	}
	if w != nil && w.Heartbeat != nil {
		hcfg.CoreBusy = w.Heartbeat.CoreBusy
	}
	if w != nil && w.Heartbeat != nil && w.Harakiri > 0 {
		hcfg.Beat = w.Heartbeat.Beat
		hcfg.BeatBusySince = w.Heartbeat.BeatBusySince
		// beat often enough that a parked, healthy worker never looks stuck
		hcfg.BeatEvery = min(time.Second, w.Harakiri/4)
	}
	var h *hub.Hub
	withMasterChannel(&hcfg, func() *hub.Hub { return h })
	h = hub.New(hcfg)
	if err := h.Start(); err != nil {
		return err
	}
	if err := startAutoreload(h, w, time.Duration(o.PyAutoReload)*time.Second); err != nil {
		return err
	}

	statics := make([]server.StaticMap, 0, len(o.StaticMap))
	for _, s := range o.StaticMap {
		m, err := server.ParseStaticMap(s)
		if err != nil {
			return err
		}
		statics = append(statics, m)
	}
	var reqOut io.Writer = os.Stderr // request lines are never dated, as in uWSGI
	if reqLog != nil {
		reqOut = reqLog
	}
	// --check-static DIR serves DIR+PATH_INFO: a static map of the whole
	// URL space, tried after the --static-map mounts (longest first)
	for _, d := range o.CheckStatic {
		statics = append(statics, server.StaticMap{Mount: "/", Dir: filepath.Clean(d)})
	}
	rules, err := o.ExpiresRules()
	if err != nil {
		return err
	}
	var expires []server.ExpiresRule
	for _, r := range rules {
		expires = append(expires, server.ExpiresRule{Kind: r.Kind, Match: r.Match, Type: r.Type, Seconds: r.Seconds, MTime: r.MTime})
	}
	var addHeaders []string
	for _, a := range o.AddHeaders {
		k, v, _ := server.ParseAddHeader(a)
		addHeaders = append(addHeaders, k, v)
	}
	var onRequest func(server.RequestDone)
	if w != nil && w.Heartbeat != nil {
		hb := w.Heartbeat
		onRequest = func(r server.RequestDone) { hb.RequestDone(r.App, r.Core, r.Duration, r.Bytes, r.Failed) }
	}
	srv = server.New(server.Config{
		OnRequest:      onRequest,
		AddHeaders:     addHeaders,
		StaticExpires:  expires,
		StaticGzipAll:  o.StaticGzipAll,
		MemoryReport:   o.MemoryReport > 0,
		Loop:           h,
		StaticMaps:     statics,
		StaticIndex:    o.StaticIndex,
		BufferSize:     o.BufferSize,
		PostBuffering:  o.PostBuffering,
		LimitPost:      o.LimitPost,
		MaxVars:        o.MaxVars,
		SocketTimeout:  time.Duration(o.SocketTimeout) * time.Second,
		HTTPTimeout:    time.Duration(o.HTTPTimeout) * time.Second,
		Logger:         logger,
		DisableLogging: o.DisableLogging,
		RequestLog: server.RequestLog{
			Format:        e.logFormat,
			Out:           reqOut,
			Log4xx:        e.log4xx,
			Log5xx:        e.log5xx,
			Slow:          time.Duration(e.logSlowMS) * time.Millisecond,
			XForwardedFor: e.logXFF,
		},
		WorkerID:        settings.WorkerID,
		SharedListeners: o.Processes > 1,
		WSMaxSize:       int64(o.WSMaxSize) << 10,
		WSPingFreq:      wsPingFreq(o.WSPingFreq),
		WSPongTolerance: time.Duration(o.WSPongTolerance) * time.Second,
	})
	if w == nil {
		daemonReady()
	}
	rssWatch(e.reloadOnRSSMB, func(why string) {
		srv.StopAccepting()
		recycle(why)
	})
	serveErr := make(chan error, len(fds))
	for i, fd := range fds {
		go func(fd int, kind server.Kind) {
			err := srv.ServeFD(fd, kind)
			if err != nil && err != server.ErrServerClosed {
				serveErr <- err
			}
		}(fd, specs[i].kind)
	}

	var masterGone <-chan struct{}
	if w != nil && w.MasterPID > 0 {
		masterGone = procman.WatchMaster(w.MasterPID)
	}

	// stop: stop accepting, let requests in flight finish within grace,
	// then stop the hub. Connections accepted just before get acceptSettle
	// to deliver their request (Shutdown closes those with nothing read);
	// with a master the socket stays open meanwhile and the other workers
	// take the new connections.
	stop := func(grace time.Duration) {
		srv.StopAccepting()
		time.Sleep(acceptSettle)
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		srv.Shutdown(ctx)
		cancel()
		if srv.InFlight() == 0 {
			h.Stop()
		}
	}
	select {
	case sig := <-sigs:
		if sig == syscall.SIGHUP {
			if w == nil {
				say("SIGHUP: graceful reload needs --master; stopping gracefully\n")
				stop(60 * time.Second)
				return nil
			}
			say("worker %d (pid: %d): gracefully reloading\n", settings.WorkerID, os.Getpid())
			stop(mercy(e))
			return &exitError{code: procman.ExitReload, err: fmt.Errorf("reload"), silent: true}
		}
		if sig == syscall.SIGTERM && e.gracefulTerm {
			say("worker %d (pid: %d): SIGTERM received, finishing requests in flight\n", settings.WorkerID, os.Getpid())
			stop(mercy(e))
			return nil
		}
		say("worker %d (pid: %d): %s received, stopping\n", settings.WorkerID, os.Getpid(), sig)
		stop(2 * time.Second)
		return nil
	case why := <-reload:
		say("worker %d (pid: %d): %s, recycling\n", settings.WorkerID, os.Getpid(), why)
		stop(60 * time.Second)
		if w == nil {
			return nil
		}
		return &exitError{code: procman.ExitReload, err: fmt.Errorf("recycle"), silent: true}
	case <-masterGone:
		say("worker %d (pid: %d): master is gone, exiting\n", settings.WorkerID, os.Getpid())
		return nil
	case err := <-serveErr:
		return err
	}
}

// mercy is how long a worker has to finish its requests when it reloads
// or stops gracefully (--worker-reload-mercy; uWSGI's default is 60 s).
func mercy(e *effects) time.Duration {
	if e.reloadMercy > 0 {
		return time.Duration(e.reloadMercy) * time.Second
	}
	return 60 * time.Second
}

// moduleVersion is uwsgi.version: the uWSGI version whose API uwsgo
// follows, with uwsgo as the custom part (Debian's build says
// 2.0.21-debian), so that version checks in apps and libraries pass.
const moduleVersion = config.UWSGIVersion + "-uwsgo"

// pythonOpt is what the app sees as uwsgi.opt: the options as given.
func pythonOpt(o *config.Options) []pyhost.Option {
	out := make([]pyhost.Option, len(o.Raw))
	for i, e := range o.Raw {
		out[i] = pyhost.Option{Key: e.Key, Value: e.Value, Bare: e.Bare}
	}
	return out
}

// wsPingFreq: --websockets-ping-freq 0 turns the pings off (the server
// reads 0 as its default).
func wsPingFreq(secs int) time.Duration {
	if secs <= 0 {
		return -1
	}
	return time.Duration(secs) * time.Second
}
