package main

import (
	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/procman"
)

// effectsOf reads the options run() carries out.
func effectsOf(o *config.Options) *effects {
	e := &effects{
		vacuum: o.Vacuum, chmodSocket: o.ChmodSocket, chownSocket: o.ChownSocket,
		umask: o.Umask, uid: o.UID, gid: o.GID, protocol: o.Protocol,
		httpSockets: o.HTTP11Sockets,
		pidfile:     o.Pidfile, pidfile2: o.Pidfile2, daemonize: o.Daemonize, daemonize2: o.Daemonize2,
		logto: o.Logto, logto2: o.Logto2, loggers: o.Loggers, reqLoggers: o.ReqLoggers,
		logFormat: o.LogFormat, logXFF: o.LogXForwardedFor,
		log4xx: o.Log4xx, log5xx: o.Log5xx, logSlowMS: o.LogSlow,
		maxWorkerLifetime: o.MaxWorkerLifetime, reloadOnRSSMB: o.ReloadOnRSS,
		reloadMercy: o.WorkerReloadMercy, harakiriVerbose: o.HarakiriVerbose,
		hooks: o.HookMasterStart,
		names: procman.Names{Auto: o.AutoProcname, Prefix: o.ProcnamePrefix, Append: o.ProcnameAppend,
			Procname: o.Procname, ProcnameMaster: o.ProcnameMaster},
	}
	// uWSGI bounds a worker's reload by worker-reload-mercy and the
	// whole reload (or graceful stop) by reload-mercy: the shorter wins
	if o.ReloadMercy > 0 && (e.reloadMercy <= 0 || o.ReloadMercy < e.reloadMercy) {
		e.reloadMercy = o.ReloadMercy
	}
	if o.ProcnamePrefixSpaced != "" {
		e.names.Prefix = o.ProcnamePrefixSpaced + " "
	}
	if o.LogDate != "" {
		// bare log-date is uWSGI's ctime shape ("Tue Dec  1 19:31:38 2026")
		e.logDateSet, e.logDate = true, o.LogDate
		if o.LogDate == config.DefaultLogDate {
			e.logDate = ""
		}
	}
	for _, h := range e.hooks {
		if isGracefulTermHook(h) {
			e.gracefulTerm = true
		}
	}
	return e
}
