package server

import (
	"strconv"
	"time"
)

// reqLog collects what uWSGI's request line shows.
type reqLog struct {
	start                time.Time
	remote, user         string
	method, uri, proto   string
	vars, varsBytes      int
	status               int
	bodyBytes            int64
	headers, headerBytes int
	core, switches       int
}

// countVars adds pairs to the "{N vars in M bytes}" count, sized as in a
// uwsgi packet (2-byte length before each key and value).
func (l *reqLog) countVars(vars []string) {
	l.vars += len(vars) / 2
	for _, v := range vars {
		l.varsBytes += 2 + len(v)
	}
}

// logRequest counts the request and writes its line, shaped like uWSGI's:
//
//	[pid: 4242|app: 0|req: 17/17] 127.0.0.1 () {32 vars in 345 bytes} [Mon Nov 23 09:00:00 2026] GET /path?x=1 => generated 12 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 79 bytes (3 switches on core 0)
func (s *Server) logRequest(l *reqLog) {
	mine, all := s.reqs.Add(1), totalReqs.Add(1)
	if s.cfg.DisableLogging {
		return
	}
	b := make([]byte, 0, 256)
	b = append(b, "[pid: "...)
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, "|app: 0|req: "...)
	b = strconv.AppendUint(b, mine, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, all, 10)
	b = append(b, "] "...)
	b = append(b, l.remote...)
	b = append(b, " ("...)
	b = append(b, l.user...)
	b = append(b, ") {"...)
	b = strconv.AppendInt(b, int64(l.vars), 10)
	b = append(b, " vars in "...)
	b = strconv.AppendInt(b, int64(l.varsBytes), 10)
	b = append(b, " bytes} ["...)
	b = l.start.AppendFormat(b, time.ANSIC) // ctime's shape, as uWSGI prints it
	b = append(b, "] "...)
	b = append(b, l.method...)
	b = append(b, ' ')
	b = append(b, l.uri...)
	b = append(b, " => generated "...)
	b = strconv.AppendInt(b, l.bodyBytes, 10)
	b = append(b, " bytes in "...)
	b = strconv.AppendInt(b, time.Since(l.start).Milliseconds(), 10)
	b = append(b, " msecs ("...)
	b = append(b, l.proto...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, ") "...)
	b = strconv.AppendInt(b, int64(l.headers), 10)
	b = append(b, " headers in "...)
	b = strconv.AppendInt(b, int64(l.headerBytes), 10)
	b = append(b, " bytes ("...)
	b = strconv.AppendInt(b, int64(l.switches), 10)
	b = append(b, " switches on core "...)
	b = strconv.AppendInt(b, int64(l.core), 10)
	b = append(b, ')')
	s.logger.Print(string(b))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
