package main

import (
	"strconv"

	"github.com/uwsgo/uwsgo/config"
	"github.com/uwsgo/uwsgo/procman"
)

// effectsOf reads the options run() carries out.
func effectsOf(o *config.Options) *effects {
	t := o.Tmp
	s := func(k string) string {
		if v := t[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	first := func(ks ...string) string {
		for _, k := range ks {
			if v := s(k); v != "" {
				return v
			}
		}
		return ""
	}
	b := func(k string) bool { return s(k) != "" }
	n := func(ks ...string) int { v, _ := strconv.Atoi(first(ks...)); return v }
	e := &effects{
		vacuum: b("vacuum"), chmodSocket: s("chmod-socket"), chownSocket: s("chown-socket"),
		umask: s("umask"), uid: s("uid"), gid: s("gid"), protocol: first("socket-protocol", "protocol"),
		pidfile: s("pidfile"), pidfile2: s("pidfile2"), daemonize: s("daemonize"), daemonize2: s("daemonize2"),
		logto: s("logto"), logto2: s("logto2"), loggers: t["logger"], reqLoggers: t["req-logger"],
		logFormat: first("log-format", "logformat"), logXFF: b("log-x-forwarded-for"),
		log4xx: b("log-4xx"), log5xx: b("log-5xx"), logSlowMS: n("log-slow"),
		maxWorkerLifetime: n("max-worker-lifetime"), reloadOnRSSMB: n("reload-on-rss"),
		reloadMercy: n("worker-reload-mercy", "reload-mercy"), harakiriVerbose: b("harakiri-verbose"),
		cheaper: b("cheaper") || b("cheaper-initial") || b("cheaper-step") || b("cheaper-algo"),
		names: procman.Names{Auto: b("auto-procname"), Prefix: s("procname-prefix"), Append: s("procname-append"),
			Procname: s("procname"), ProcnameMaster: s("procname-master")},
		httpSockets: t["http11-socket"],
		hooks:       t["hook-master-start"],
	}
	for _, h := range e.hooks {
		if isGracefulTermHook(h) {
			e.gracefulTerm = true
		}
	}
	if v := s("procname-prefix-spaced"); v != "" {
		e.names.Prefix = v + " "
	}
	if _, ok := t["log-date"]; ok {
		e.logDateSet, e.logDate = true, s("log-date")
	} else if _, ok := t["logdate"]; ok {
		e.logDateSet, e.logDate = true, s("logdate")
	}
	return e
}
