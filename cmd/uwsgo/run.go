package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/hub"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/pyhost"
	"github.com/uwsgo/uwsgo/server"
)

// socketSpec is one listener: its address and protocol, in the order
// listeners are opened by the master and inherited by the workers.
type socketSpec struct {
	addr string
	kind server.Kind
}

func socketSpecs(o *config.Options) []socketSpec {
	var specs []socketSpec
	for _, a := range o.Sockets {
		specs = append(specs, socketSpec{a, server.UWSGI})
	}
	for _, a := range o.HTTPSockets {
		specs = append(specs, socketSpec{a, server.HTTP})
	}
	return specs
}

func kindName(k server.Kind) string {
	if k == server.HTTP {
		return "http"
	}
	return "uwsgi"
}

func run(o *config.Options) error {
	if o.Chdir != "" {
		if err := os.Chdir(o.Chdir); err != nil {
			return fmt.Errorf("--chdir: %w", err)
		}
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	if w, ok := procman.CurrentWorker(); ok {
		lns, err := inheritedListeners(w.Listeners)
		if err != nil {
			return err
		}
		return runWorker(o, lns, w)
	}
	specs := socketSpecs(o)
	lns := make([]net.Listener, len(specs))
	for i, s := range specs {
		ln, err := server.Listen(s.addr, o.Listen)
		if err != nil {
			return fmt.Errorf("cannot bind %s socket %s: %w", kindName(s.kind), s.addr, err)
		}
		lns[i] = ln
	}
	banner(o, specs, lns)
	if o.Master || o.Processes > 1 {
		files := make([]*os.File, len(lns))
		for i, ln := range lns {
			f, err := listenerFile(ln)
			if err != nil {
				return err
			}
			files[i] = f
			ln.Close() // the dup in f keeps the socket open
		}
		code := procman.RunMaster(procman.Spec{
			Processes: o.Processes,
			Listeners: files,
			Harakiri:  time.Duration(o.Harakiri) * time.Second,
		})
		if code != 0 {
			return &exitError{code: code, err: fmt.Errorf("master exited with status %d", code)}
		}
		return nil
	}
	return runWorker(o, lns, nil)
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

func banner(o *config.Options, specs []socketSpec, lns []net.Listener) {
	wd, _ := os.Getwd()
	fmt.Fprintf(os.Stderr, "*** Starting uwsgo %s (%dbit) on [%s] ***\n", Version, 64,
		time.Now().Format("Mon Jan _2 15:04:05 2006"))
	fmt.Fprintf(os.Stderr, "detected number of CPU cores: %d\n", runtime.NumCPU())
	fmt.Fprintf(os.Stderr, "current working directory: %s\n", wd)
	fmt.Fprintf(os.Stderr, "detected binary path: %s\n", exePath())
	for i, s := range specs {
		fmt.Fprintf(os.Stderr, "%s socket %d bound to %s (listen backlog %d)\n", kindName(s.kind), i, lns[i].Addr(), o.Listen)
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
	fmt.Fprintf(os.Stderr, "*** Operational MODE: %s ***\n", mode)
	fmt.Fprintf(os.Stderr, "Python version: %s\n", pyhost.PythonVersion())
	switch engine {
	case pyhost.EngineUGreen:
		fmt.Fprintf(os.Stderr, "uGreen: %d green threads, stack %d KiB (%d pages) with guard pages, %s switch\n",
			cores, o.UGreenStackPages*os.Getpagesize()/1024, o.UGreenStackPages, o.UGreenSwitch)
	case pyhost.EngineGreenlet:
		fmt.Fprintf(os.Stderr, "greenlet engine: %d cores\n", cores)
	case pyhost.EngineGevent:
		fmt.Fprintf(os.Stderr, "gevent loop engine: %d async cores (monkey patching: %v)\n", cores, o.GeventMonkey || o.GeventEarly)
	case pyhost.EngineThreads:
		fmt.Fprintf(os.Stderr, "threads: %d per worker\n", cores)
	default:
		if cores > 1 {
			fmt.Fprintf(os.Stderr, "async: %d cores\n", cores)
			fmt.Fprintf(os.Stderr, "*** WARNING: async mode without a suspend engine (--ugreen or --greenlet): uwsgi.suspend() does nothing, the app must yield to let other cores run ***\n")
		}
	}
	if o.Processes > 1 || o.Master {
		fmt.Fprintf(os.Stderr, "master process enabled, %d worker(s)\n", o.Processes)
	}
	printAccepted(os.Stderr, o)
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

func runWorker(o *config.Options, lns []net.Listener, w *procman.Worker) error {
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
		Version:      Version,
	}
	if w != nil {
		settings.WorkerID, settings.NumProc, settings.MasterPID = w.ID, w.NumProc, w.MasterPID
	}

	reload := make(chan struct{}, 1)
	var srv *server.Server
	hcfg := hub.Config{
		Python:      settings,
		Module:      o.Module,
		WSGIFile:    o.WSGIFile,
		Callable:    o.Callable,
		MaxRequests: o.MaxRequests,
		OnMaxRequests: func() {
			// Called on the hub thread as the last request finishes, before
			// its client can come back: stop accepting now so the next
			// connection goes to the next worker (with a master) and the
			// count is exact.
			srv.StopAccepting()
			select {
			case reload <- struct{}{}:
			default:
			}
		},
	}
	if w != nil && w.Heartbeat != nil {
		hcfg.Beat = w.Heartbeat.Beat
		hcfg.BeatBusySince = w.Heartbeat.BeatBusySince
		// beat often enough that a parked, healthy worker never looks stuck
		hcfg.BeatEvery = min(time.Second, w.Harakiri/4)
	}
	h := hub.New(hcfg)
	start := time.Now()
	if err := h.Start(); err != nil {
		return err
	}
	app := o.Module
	if o.WSGIFile != "" {
		app = o.WSGIFile
	}
	fmt.Fprintf(os.Stderr, "WSGI app 0 (mountpoint='') ready in %d seconds: %s:%s, pid: %d, cores: %d\n",
		int(time.Since(start).Seconds()), app, o.Callable, os.Getpid(), cores)

	statics := make([]server.StaticMap, 0, len(o.StaticMap))
	for _, s := range o.StaticMap {
		m, err := server.ParseStaticMap(s)
		if err != nil {
			return err
		}
		statics = append(statics, m)
	}
	srv = server.New(server.Config{
		Loop:            h,
		StaticMaps:      statics,
		StaticIndex:     o.StaticIndex,
		BufferSize:      o.BufferSize,
		PostBuffering:   o.PostBuffering,
		LimitPost:       o.LimitPost,
		MaxVars:         o.MaxVars,
		SocketTimeout:   time.Duration(o.SocketTimeout) * time.Second,
		HTTPTimeout:     time.Duration(o.HTTPTimeout) * time.Second,
		Logger:          log.New(os.Stderr, "", 0),
		DisableLogging:  o.DisableLogging,
		WorkerID:        settings.WorkerID,
		SharedListeners: o.Processes > 1,
	})
	// Catch the stop signals before the first request can be answered: a
	// client that saw an answer may signal at once, and one that came
	// before Notify would kill the worker, or be lost if it was started
	// with SIGINT ignored (a shell's background job).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	specs := socketSpecs(o)
	serveErr := make(chan error, len(lns))
	for i, ln := range lns {
		go func(ln net.Listener, kind server.Kind) {
			err := srv.Serve(ln, kind)
			if err != nil && err != server.ErrServerClosed {
				serveErr <- err
			}
		}(ln, specs[i].kind)
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
				fmt.Fprintf(os.Stderr, "SIGHUP: graceful reload needs --master; stopping gracefully\n")
				stop(60 * time.Second)
				return nil
			}
			fmt.Fprintf(os.Stderr, "worker %d (pid: %d): gracefully reloading\n", settings.WorkerID, os.Getpid())
			stop(60 * time.Second)
			return &exitError{code: procman.ExitReload, err: fmt.Errorf("reload"), silent: true}
		}
		fmt.Fprintf(os.Stderr, "worker %d (pid: %d): %s received, stopping\n", settings.WorkerID, os.Getpid(), sig)
		stop(2 * time.Second)
		return nil
	case <-reload:
		fmt.Fprintf(os.Stderr, "worker %d (pid: %d): max requests reached (%d), recycling\n", settings.WorkerID, os.Getpid(), o.MaxRequests)
		stop(60 * time.Second)
		if w == nil {
			return nil
		}
		return &exitError{code: procman.ExitReload, err: fmt.Errorf("recycle"), silent: true}
	case <-masterGone:
		fmt.Fprintf(os.Stderr, "worker %d (pid: %d): master is gone, exiting\n", settings.WorkerID, os.Getpid())
		return nil
	case err := <-serveErr:
		return err
	}
}
