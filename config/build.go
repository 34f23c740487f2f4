package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxUGreenStackBytes caps --ugreen-stacksize: beyond this it is a typo.
const maxUGreenStackBytes = 1 << 30

// Defaults returns Options holding uWSGI's defaults and nothing else
// (no app, no socket: it does not pass Validate as it is).
func Defaults() Options {
	return Options{
		Callable:          DefaultCallable,
		Listen:            DefaultListen,
		UGreenStackPages:  DefaultUGreenStackPages,
		UGreenSwitch:      DefaultUGreenSwitch,
		Processes:         DefaultProcesses,
		BufferSize:        DefaultBufferSize,
		PostBuffering:     DefaultPostBuffering,
		SocketTimeout:     DefaultSocketTimeout,
		HTTPTimeout:       DefaultHTTPTimeout,
		MaxVars:           DefaultMaxVars,
		WSMaxSize:         1024,
		WSPingFreq:        30,
		WSPongTolerance:   3,
		ReloadMercy:       DefaultReloadMercy,
		WorkerReloadMercy: DefaultWorkerMercy,
	}
}

// Normalize fills empty string options with their defaults and splits
// Module "pkg.mod:func" into Module "pkg.mod" and Callable "func" (uWSGI's
// `-w mod:app`; the part after the colon wins over --callable).
func (o *Options) Normalize() error {
	if o.Callable == "" {
		o.Callable = DefaultCallable
	}
	if o.UGreenSwitch == "" {
		o.UGreenSwitch = DefaultUGreenSwitch
	}
	if i := strings.IndexByte(o.Module, ':'); i >= 0 {
		mod, fn := o.Module[:i], o.Module[i+1:]
		if mod == "" || fn == "" {
			return fmt.Errorf("--module %q: expected MODULE or MODULE:CALLABLE", o.Module)
		}
		o.Module, o.Callable = mod, fn
	}
	return nil
}

// Validate refuses what makes no sense; each error is one line naming the
// option and why.
func (o *Options) Validate() error {
	switch {
	case o.Module == "" && o.WSGIFile == "" && len(o.Mounts) == 0:
		return errors.New("no app to load: give --module (-w), --wsgi-file or --mount")
	case o.Module != "" && o.WSGIFile != "":
		return fmt.Errorf("--module %q and --wsgi-file %q both given: give one app", o.Module, o.WSGIFile)
	case len(o.Sockets) == 0 && len(o.HTTPSockets) == 0 && len(o.HTTP11Sockets) == 0:
		return errors.New("no socket to listen on: give --socket (-s) or --http-socket (--http)")
	}
	for _, s := range o.Sockets {
		if strings.TrimSpace(s) == "" {
			return errors.New("--socket: empty address")
		}
	}
	for _, s := range o.HTTPSockets {
		if strings.TrimSpace(s) == "" {
			return errors.New("--http-socket: empty address")
		}
	}

	if o.Processes <= 0 {
		return fmt.Errorf("--processes %d: must be at least 1", o.Processes)
	}
	if err := nonNegative("harakiri", o.Harakiri); err != nil {
		return err
	}
	if err := nonNegative("async", o.Async); err != nil {
		return err
	}
	if err := nonNegative("max-requests", o.MaxRequests); err != nil {
		return err
	}
	if err := nonNegative("gevent", o.Gevent); err != nil {
		return err
	}
	if err := nonNegative("threads", o.Threads); err != nil {
		return err
	}
	if err := o.validateThreads(); err != nil {
		return err
	}
	if err := nonNegative("post-buffering", o.PostBuffering); err != nil {
		return err
	}
	if o.LimitPost < 0 {
		return fmt.Errorf("--limit-post %d: must not be negative", o.LimitPost)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"max-vars", o.MaxVars}, {"socket-timeout", o.SocketTimeout}, {"http-timeout", o.HTTPTimeout},
		{"websockets-max-size", o.WSMaxSize}, {"websockets-pong-tolerance", o.WSPongTolerance}} {
		if v.n <= 0 {
			return fmt.Errorf("--%s %d: must be at least 1", v.name, v.n)
		}
	}
	if err := nonNegative("websockets-ping-freq", o.WSPingFreq); err != nil {
		return err
	}
	if o.Listen <= 0 {
		return fmt.Errorf("--listen %d: the backlog must be at least 1", o.Listen)
	}
	if o.BufferSize <= 0 {
		return fmt.Errorf("--buffer-size %d: must be at least 1", o.BufferSize)
	}

	page := os.Getpagesize()
	if o.UGreenStackPages < 2 {
		return fmt.Errorf("--ugreen-stacksize %d: at least 2 pages are needed", o.UGreenStackPages)
	}
	if int64(o.UGreenStackPages)*int64(page) > maxUGreenStackBytes {
		return fmt.Errorf("--ugreen-stacksize %d: %d pages of %d bytes is more than 1 GiB per core", o.UGreenStackPages, o.UGreenStackPages, page)
	}
	if o.UGreenSwitch != SwitchFast && o.UGreenSwitch != SwitchSwapcontext {
		return fmt.Errorf("--ugreen-switch %q: must be %q or %q", o.UGreenSwitch, SwitchFast, SwitchSwapcontext)
	}

	switch {
	case o.UGreen && o.Greenlet:
		return errors.New("--ugreen cannot be used with --greenlet (one suspend engine at a time)")
	case o.UGreen && o.Gevent > 0:
		return errors.New("--ugreen cannot be used with --gevent (one suspend engine at a time)")
	case o.Greenlet && o.Gevent > 0:
		return errors.New("--greenlet cannot be used with --gevent (one suspend engine at a time; gevent runs its own greenlets)")
	case o.GeventMonkey && o.Gevent == 0:
		return errors.New("--gevent-monkey-patch needs --gevent N")
	case o.GeventEarly && o.Gevent == 0:
		return errors.New("--gevent-early-monkey-patch needs --gevent N")
	}

	for _, m := range o.StaticMap {
		mount, dir, ok := strings.Cut(m, "=")
		if !ok {
			return fmt.Errorf("--static-map %q: expected /MOUNT=DIR", m)
		}
		if mount == "" || dir == "" {
			return fmt.Errorf("--static-map %q: both the mount point and the directory are needed (/MOUNT=DIR)", m)
		}
	}
	for _, name := range o.StaticIndex {
		if name == "" {
			return errors.New("--static-index: empty file name (expected e.g. index.html)")
		}
	}
	if err := o.validateApps(); err != nil {
		return err
	}
	for _, e := range o.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok {
			return fmt.Errorf("--env %q: expected KEY=VALUE", e)
		}
		if k == "" {
			return fmt.Errorf("--env %q: empty variable name", e)
		}
	}
	return nil
}

func nonNegative(name string, v int) error {
	if v < 0 {
		return fmt.Errorf("--%s %d: must not be negative", name, v)
	}
	return nil
}
