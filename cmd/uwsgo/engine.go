package main

import (
	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/pyhost"
)

// engineFor picks the suspend/loop engine and the number of cores, as
// uWSGI does: --gevent N is N cores on gevent's loop; --async N cores
// switch with --ugreen, --greenlet, or by yielding alone; --threads N
// (N > 1) is N cores that are Python threads.
func engineFor(o *config.Options) (pyhost.Engine, int) {
	cores := o.Async
	engine := pyhost.EngineAsync
	switch {
	case o.Threads > 1:
		engine, cores = pyhost.EngineThreads, o.Threads
	case o.Gevent > 0:
		engine, cores = pyhost.EngineGevent, o.Gevent
	case o.Greenlet:
		engine = pyhost.EngineGreenlet
	case o.UGreen:
		engine = pyhost.EngineUGreen
	}
	if cores < 1 {
		cores = 1
	}
	return engine, cores
}

func engineName(e pyhost.Engine) string {
	switch e {
	case pyhost.EngineUGreen:
		return "ugreen"
	case pyhost.EngineGreenlet:
		return "greenlet"
	case pyhost.EngineGevent:
		return "gevent"
	case pyhost.EngineThreads:
		return "threads"
	}
	return "async"
}
