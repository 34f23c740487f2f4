package server

import (
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// RequestLog is how request lines are written (uWSGI's logging options).
type RequestLog struct {
	// Format is uWSGI's --log-format, with %(name) variables (see
	// CompileLogFormat); "" is uWSGI's default line.
	Format string
	// Out receives the lines (--req-logger file:PATH); nil: the
	// Config.Logger's writer.
	Out io.Writer
	// These log a request even under DisableLogging, as uWSGI's
	// --log-4xx, --log-5xx and --log-slow MILLISECONDS do.
	Log4xx, Log5xx bool
	Slow           time.Duration
	// XForwardedFor shows the X-Forwarded-For header as the client's
	// address (--log-x-forwarded-for), when the request has one.
	XForwardedFor bool
}

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
	app                  int
	failed               bool   // the app raised
	logVars              string // uwsgi.set_logvar's: "key\x00value\x00" ...
	logThis              bool   // uwsgi.log_this_request()
}

// RequestDone is what OnRequest is told.
type RequestDone struct {
	App, Core int
	Duration  time.Duration
	Bytes     int64 // body bytes sent
	Failed    bool  // the app raised
}

// countVars adds pairs to the "{N vars in M bytes}" count, sized as in a
// uwsgi packet (2-byte length before each key and value).
func (l *reqLog) countVars(vars []string) {
	l.vars += len(vars) / 2
	for _, v := range vars {
		l.varsBytes += 2 + len(v)
	}
}

// logRequest counts c's request and writes its line: uWSGI's default
// line, or the --log-format one. One write per line, from a buffer the
// server reuses (the loop's thread is the only caller).
func (s *Server) logRequest(c *conn) {
	l := &c.rl
	mine, all := s.reqs.Add(1), totalReqs.Add(1)
	if s.cfg.OnRequest != nil {
		s.cfg.OnRequest(RequestDone{App: l.app, Core: l.core, Duration: time.Since(l.start), Bytes: l.bodyBytes, Failed: l.failed})
	}
	if s.cfg.DisableLogging && !l.logThis && !s.logAnyway(l) {
		return
	}
	remote := l.remote
	if s.cfg.RequestLog.XForwardedFor {
		if xff := varValue(c.vars, "HTTP_X_FORWARDED_FOR"); xff != "" {
			remote = xff
		}
	}
	b := s.logBuf[:0]
	if s.cfg.MemoryReport {
		b = appendMemoryReport(b)
	}
	if s.logFormat != nil {
		b = s.logFormat.appendLine(b, s, c, remote)
	} else {
		b = s.appendDefaultLine(b, l, remote, mine, all)
	}
	b = append(b, '\n')
	s.reqOut.Write(b)
	if cap(b) <= 4096 {
		s.logBuf = b
	}
}

// logAnyway: a request uWSGI's conditional logging keeps when request
// logging is off.
func (s *Server) logAnyway(l *reqLog) bool {
	o := &s.cfg.RequestLog
	switch {
	case o.Log4xx && l.status >= 400 && l.status <= 499,
		o.Log5xx && l.status >= 500 && l.status <= 599:
		return true
	case o.Slow > 0:
		return time.Since(l.start) >= o.Slow
	}
	return false
}

// appendDefaultLine appends uWSGI's line:
//
//	[pid: 4242|app: 0|req: 17/17] 127.0.0.1 () {32 vars in 345 bytes} [Mon Nov 23 09:00:00 2026] GET /path?x=1 => generated 12 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 79 bytes (3 switches on core 0)
func (s *Server) appendDefaultLine(b []byte, l *reqLog, remote string, mine, all uint64) []byte {
	b = append(b, "[pid: "...)
	b = strconv.AppendInt(b, int64(s.pid), 10)
	b = append(b, "|app: 0|req: "...)
	b = strconv.AppendUint(b, mine, 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, all, 10)
	b = append(b, "] "...)
	b = append(b, remote...)
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
	return b
}

// varValue is the value of the first key in a request's vars ("" if none).
func varValue(vars []string, key string) string {
	for i := 0; i+1 < len(vars); i += 2 {
		if vars[i] == key {
			return vars[i+1]
		}
	}
	return ""
}

// logVar is key's value in the request's logvars ("" when unset).
func logVar(vars, key string) string {
	for vars != "" {
		k, rest, _ := strings.Cut(vars, "\x00")
		v, rest, _ := strings.Cut(rest, "\x00")
		if k == key {
			return v
		}
		vars = rest
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// LogFormat is a compiled --log-format.
type LogFormat struct {
	chunks []lfChunk
}

type lfChunk struct {
	lit string // text, when v is lfText
	v   lfVar
	key string // the request variable of lfVarKey
}

type lfVar uint8

const (
	lfText lfVar = iota
	lfUnknown
	lfVarKey // %(var.NAME): a request variable
	lfURI
	lfMethod
	lfUser
	lfAddr
	lfHost
	lfProto
	lfUAgent
	lfReferer
	lfStatus
	lfRSize
	lfHSize
	lfSize
	lfCL
	lfMicros
	lfMsecs
	lfSecs
	lfTMsecs
	lfTMicros
	lfTime
	lfLTime
	lfFTime
	lfCTime
	lfEpoch
	lfPid
	lfWid
	lfSwitches
	lfVars
	lfCore
	lfVsz
	lfRss
	lfVszM
	lfRssM
	lfPktSize
	lfModifier
	lfHeaders
	lfIOErr
)

// lfNames are uWSGI's request variables (core/logging.c,
// uwsgi_register_logchunks). Any other name is a "logvar", which the app
// sets with uwsgi.set_logvar (lfUnknown, by key); "-" when it did not,
// as in uWSGI.
var lfNames = map[string]lfVar{
	"uri": lfURI, "method": lfMethod, "user": lfUser, "addr": lfAddr,
	"host": lfHost, "proto": lfProto, "uagent": lfUAgent, "referer": lfReferer,
	"status": lfStatus, "rsize": lfRSize, "hsize": lfHSize, "size": lfSize,
	"cl": lfCL, "micros": lfMicros, "msecs": lfMsecs, "secs": lfSecs,
	"tmsecs": lfTMsecs, "tmicros": lfTMicros, "time": lfTime, "ltime": lfLTime,
	"ftime": lfFTime, "ctime": lfCTime, "epoch": lfEpoch, "pid": lfPid,
	"wid": lfWid, "switches": lfSwitches, "vars": lfVars, "core": lfCore,
	"vsz": lfVsz, "rss": lfRss, "vszM": lfVszM, "rssM": lfRssM,
	"pktsize": lfPktSize, "modifier1": lfModifier, "modifier2": lfModifier,
	"headers": lfHeaders, "werr": lfIOErr, "rerr": lfIOErr, "ioerr": lfIOErr,
}

// CompileLogFormat parses uWSGI's --log-format: text with %(name)
// variables. A "%(" that is never closed stays text.
func CompileLogFormat(format string) *LogFormat {
	f := &LogFormat{}
	text := func(s string) {
		if s == "" {
			return
		}
		if n := len(f.chunks); n > 0 && f.chunks[n-1].v == lfText {
			f.chunks[n-1].lit += s
			return
		}
		f.chunks = append(f.chunks, lfChunk{lit: s})
	}
	rest := format
	for {
		i := strings.Index(rest, "%(")
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+2:], ')')
		if j <= 0 {
			// unclosed, or "%()": text up to past the "%("
			text(rest[:i+2])
			rest = rest[i+2:]
			continue
		}
		text(rest[:i])
		name := rest[i+2 : i+2+j]
		rest = rest[i+3+j:]
		switch v, ok := lfNames[name]; {
		case ok:
			f.chunks = append(f.chunks, lfChunk{v: v})
		case strings.HasPrefix(name, "var.") && len(name) > 4:
			f.chunks = append(f.chunks, lfChunk{v: lfVarKey, key: name[4:]})
		default:
			f.chunks = append(f.chunks, lfChunk{v: lfUnknown, key: name})
		}
	}
	text(rest)
	return f
}

// ltimeLayout is strftime's "%d/%b/%Y:%H:%M:%S %z", uWSGI's %(ltime).
const ltimeLayout = "02/Jan/2006:15:04:05 -0700"

func (f *LogFormat) appendLine(b []byte, s *Server, c *conn, remote string) []byte {
	l := &c.rl
	var mem [2]int64 // vsz, rss; read once per line when asked for
	memRead := false
	for i := range f.chunks {
		ch := &f.chunks[i]
		if ch.v == lfText {
			b = append(b, ch.lit...)
			continue
		}
		n := len(b)
		switch ch.v {
		case lfURI:
			b = append(b, l.uri...)
		case lfMethod:
			b = append(b, l.method...)
		case lfUser:
			b = append(b, l.user...)
		case lfAddr:
			b = append(b, remote...)
		case lfHost:
			b = append(b, varValue(c.vars, "HTTP_HOST")...)
		case lfProto:
			b = append(b, l.proto...)
		case lfUAgent:
			b = append(b, varValue(c.vars, "HTTP_USER_AGENT")...)
		case lfReferer:
			b = append(b, varValue(c.vars, "HTTP_REFERER")...)
		case lfVarKey:
			b = append(b, varValue(c.vars, ch.key)...)
		case lfUnknown:
			b = append(b, logVar(l.logVars, ch.key)...)
		case lfStatus:
			b = strconv.AppendInt(b, int64(l.status), 10)
		case lfRSize:
			b = strconv.AppendInt(b, l.bodyBytes, 10)
		case lfHSize:
			b = strconv.AppendInt(b, int64(l.headerBytes), 10)
		case lfSize:
			b = strconv.AppendInt(b, int64(l.headerBytes)+l.bodyBytes, 10)
		case lfCL:
			cl := varValue(c.vars, "CONTENT_LENGTH")
			if cl == "" {
				cl = "0"
			}
			b = append(b, cl...)
		case lfMicros:
			b = strconv.AppendInt(b, time.Since(l.start).Microseconds(), 10)
		case lfMsecs:
			b = strconv.AppendInt(b, time.Since(l.start).Milliseconds(), 10)
		case lfSecs:
			b = strconv.AppendFloat(b, time.Since(l.start).Seconds(), 'f', 6, 64)
		case lfTMsecs:
			b = strconv.AppendInt(b, l.start.UnixMilli(), 10)
		case lfTMicros:
			b = strconv.AppendInt(b, l.start.UnixMicro(), 10)
		case lfTime:
			b = strconv.AppendInt(b, l.start.Unix(), 10)
		case lfLTime, lfFTime:
			b = l.start.AppendFormat(b, ltimeLayout)
		case lfCTime:
			b = l.start.AppendFormat(b, time.ANSIC)
		case lfEpoch:
			b = strconv.AppendInt(b, time.Now().Unix(), 10)
		case lfPid:
			b = strconv.AppendInt(b, int64(s.pid), 10)
		case lfWid:
			b = strconv.AppendInt(b, int64(s.cfg.WorkerID), 10)
		case lfSwitches:
			b = strconv.AppendInt(b, int64(l.switches), 10)
		case lfVars:
			b = strconv.AppendInt(b, int64(l.vars), 10)
		case lfCore:
			b = strconv.AppendInt(b, int64(l.core), 10)
		case lfVsz, lfRss, lfVszM, lfRssM:
			if !memRead {
				mem, memRead = memUsage(), true
			}
			v := mem[0]
			if ch.v == lfRss || ch.v == lfRssM {
				v = mem[1]
			}
			if ch.v == lfVszM || ch.v == lfRssM {
				v >>= 20
			}
			b = strconv.AppendInt(b, v, 10)
		case lfPktSize:
			b = strconv.AppendInt(b, int64(l.varsBytes), 10)
		case lfHeaders:
			b = strconv.AppendInt(b, int64(l.headers), 10)
		case lfModifier, lfIOErr:
			b = append(b, '0')
		}
		if len(b) == n {
			b = append(b, '-') // uWSGI shows an empty value as "-"
		}
	}
	return b
}

// memUsage is this process's virtual size and resident set in bytes,
// from /proc/self/statm.
func memUsage() [2]int64 {
	var out [2]int64
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return out
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return out
	}
	page := int64(os.Getpagesize())
	for i := range out {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		out[i] = n * page
	}
	return out
}
