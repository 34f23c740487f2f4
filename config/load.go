package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Source is where an option came from.
type Source struct {
	File string // the configuration file, "" for the command line or the environment
	Line int    // its line in File (1-based), 0 when unknown
	Env  string // the UWSGI_* variable it came from
}

func (s Source) String() string {
	switch {
	case s.Env != "":
		return "environment variable " + s.Env
	case s.File == "":
		return "command line"
	case s.Line > 0:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
	return s.File
}

// Error is a configuration error: one line, and the exit status it asks for.
type Error struct {
	Code int // 2: an unknown command-line flag under --strict; 1: the rest
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &Error{Code: 1, Msg: fmt.Sprintf(format, args...)}
}

// Loaded is the result of Load: the options, and what to print before the
// server starts.
type Loaded struct {
	Options *Options
	// Prints holds the --print texts, in order.
	Prints []string
	// ShowConfig is the configuration as ini, when --show-config was given.
	ShowConfig string
	// Help or Version: print that and exit 0 (nothing else was checked).
	Help, Version bool
}

// item is one option being read: its spelling, value and origin, plus what
// the loader knows of it.
type item struct {
	key    string
	value  string
	bare   bool   // no value given at all
	flag   string // the command-line spelling, for an unknown flag ("--foo", "-x")
	from   Source
	immed  bool // run while reading (includes, logic): the passes leave it alone
	placed bool // set by set-placeholder: a placeholder, never an option
}

// spelled is the option as the user wrote its name: --name on the command
// line, name in a file.
func (it *item) spelled() string {
	if it.from.File == "" && it.from.Env == "" {
		if it.flag != "" {
			return it.flag
		}
		return "--" + it.key
	}
	return it.key
}

// what is the option and its value as written, for an error.
func (it *item) what() string {
	if it.from.File == "" && it.from.Env == "" {
		return fmt.Sprintf("%s %q", it.spelled(), it.value)
	}
	return fmt.Sprintf("%s = %q", it.key, it.value)
}

// loader holds the state of one Load, as uWSGI's global option list does.
type loader struct {
	items    []*item
	lastFile string // for `ini = :section`
	stack    []string
	logic    *logicState
	// lastIfFailed is the outcome of the last if, for an else after endif.
	lastIfFailed bool
	warnings     []string        // found while reading (a missing section)
	used         map[string]bool // the NAMEs of every %(NAME), before expansion
	magic        map[byte]string // the first file's, for the upper-case letters
	lastMagic    map[byte]string // the last file's, for uwsgi.magic_table
	cwd          string
	host         string
	environ      func(string) (string, bool)
}

// Load reads the configuration uWSGI's way: UWSGI_* variables of environ
// first, then args (without the program name) in order, with every file
// they name (--ini, --yaml, --json, or a bare FILE.ini) read where it is
// named; then $(VAR), @(FILE) and %(NAME) are expanded over all of it,
// and the options are checked and set. Unknown options and options not
// implemented are warnings (Options.Warnings), errors under --strict.
// When the options were read but make no sense together, Load returns
// both the Loaded (its warnings and prints are still to be shown) and
// the error.
func Load(args []string, environ []string) (*Loaded, error) {
	l := &loader{}
	envMap := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	l.environ = func(k string) (string, bool) { v, ok := envMap[k]; return v, ok }
	l.cwd, _ = os.Getwd()
	l.host, _ = os.Hostname()

	for _, a := range args {
		switch a {
		case "--help", "-h", "--usage":
			return &Loaded{Help: true}, nil
		case "--version":
			return &Loaded{Version: true}, nil
		}
	}
	if err := l.readEnv(environ); err != nil {
		return nil, err
	}
	if err := l.readArgs(args); err != nil {
		return nil, err
	}
	// Keys used as %(key) anywhere are placeholders when they are no option.
	l.used = map[string]bool{}
	for _, it := range l.items {
		for _, name := range placeholderNames(it.value) {
			l.used[name] = true
		}
	}
	if err := l.expand(); err != nil {
		return nil, err
	}
	return l.apply()
}

// readEnv adds UWSGI_NAME=VALUE as option name (lower case, '_' -> '-'),
// as uWSGI does, leaving alone the variables uWSGI keeps for itself.
func (l *loader) readEnv(environ []string) error {
	skip := map[string]bool{"UWSGI_RELOADS": true, "UWSGI_VASSALS_DIR": true, "UWSGI_EMPEROR_FD": true,
		"UWSGI_BROODLORD_NUM": true, "UWSGI_EMPEROR_FD_CONFIG": true, "UWSGI_EMPEROR_PROXY": true,
		"UWSGI_JAIL_PID": true, "UWSGI_ORIGINAL_PROC_NAME": true}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "UWSGI_") || skip[k] || len(k) == len("UWSGI_") {
			continue
		}
		name := strings.ReplaceAll(asciiLower(k[len("UWSGI_"):]), "_", "-")
		if err := l.add(&item{key: name, value: v, from: Source{Env: k}}); err != nil {
			return err
		}
	}
	return nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// immediate are the options carried out as they are read.
var immediate = map[string]bool{
	"ini": true, "yaml": true, "json": true, "include": true, "set": true,
	"if-env": true, "if-not-env": true, "if-opt": true, "if-not-opt": true,
	"if-exists": true, "if-not-exists": true, "if-file": true, "if-not-file": true,
	"if-dir": true, "if-not-dir": true, "if-hostname": true, "if-not-hostname": true,
	"if-plugin": true, "if-not-plugin": true, "endif": true,
	"for": true, "for-glob": true, "for-readline": true, "for-times": true, "endfor": true,
}

// add takes one option in, through the if/for block that is open.
func (l *loader) add(it *item) error {
	canon := it.key
	if o := Lookup(it.key); o != nil {
		canon = o.Name
	}
	switch canon {
	case "endif", "endfor", "end": // uWSGI ends a block on "end" too
		l.logic = nil
	case "else":
		// the options up to endif count when the last if failed
		l.logic = &logicState{kind: "else", failed: l.lastIfFailed}
		l.items = append(l.items, it)
		it.immed = true
		return nil
	}
	if l.logic != nil {
		return l.logic.run(l, it)
	}
	return l.store(it, canon)
}

// store appends it and carries it out if it is immediate.
func (l *loader) store(it *item, canon string) error {
	l.items = append(l.items, it)
	if !immediate[canon] {
		return nil
	}
	it.immed = true
	if !it.bare && canon != "set" {
		// uWSGI carries these out before any %(name) or $(VAR) is
		// expanded; uwsgo expands what is known by now, so that
		// `ini = %(base)/common.ini` works.
		v, err := l.expandNow(it.value)
		if err != nil {
			return errorf("%s: %v (%s)", it.what(), err, it.from)
		}
		it.value = v
	}
	switch canon {
	case "ini", "yaml", "json", "include":
		if it.bare || it.value == "" && canon != "ini" {
			return errorf("%s: %s needs a file name (%s)", it.key, it.key, it.from)
		}
		return l.include(canon, it.value, it.from)
	case "set":
		name, val, ok := strings.Cut(it.value, "=")
		if !ok || name == "" {
			return errorf("%s = %q: expected NAME=VALUE (%s)", it.key, it.value, it.from)
		}
		l.items = append(l.items, &item{key: name, value: val, from: it.from, placed: it.key != "set"})
		return nil
	case "endif", "endfor":
		return nil
	}
	// if-* and for-*
	st, err := l.startLogic(canon, it)
	if err != nil {
		return err
	}
	l.logic = st
	return nil
}

// include reads a configuration file named by an option (or given bare).
func (l *loader) include(kind, spec string, from Source) error {
	file, section := splitSection(spec)
	if file == "" {
		if l.lastFile == "" {
			return errorf("%s = %s: no file read before to take the section from (%s)", kind, spec, from)
		}
		file = l.lastFile
	}
	if kind == "include" {
		switch {
		case strings.HasSuffix(file, ".ini"):
			kind = "ini"
		case strings.HasSuffix(file, ".yaml"), strings.HasSuffix(file, ".yml"):
			kind = "yaml"
		case strings.HasSuffix(file, ".json"), strings.HasSuffix(file, ".js"):
			kind = "json"
		default:
			return errorf("include = %s: unknown kind of file (expected .ini, .yaml, .yml, .json) (%s)", spec, from)
		}
	}
	given := section // %x is the section only when one was named
	if section == "" {
		section = DefaultIniSection
	}
	abs, _ := filepath.Abs(file)
	self := abs + ":" + section
	for _, s := range l.stack {
		if s == self {
			return errorf("%s %s: includes itself (via %s) (%s)", kind, file, strings.Join(l.stack, " -> "), from)
		}
	}
	if len(l.stack) >= maxIniDepth {
		return errorf("%s %s: configuration files nested more than %d deep (%s)", kind, file, maxIniDepth, from)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return errorf("%s %s: cannot read: %v (%s)", kind, file, unwrapPath(err), from)
	}
	l.lastFile = file
	magic := l.magicTable(file, given)
	text := magicSub(string(data), magic)
	l.stack = append(l.stack, self)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	switch kind {
	case "ini":
		return l.readIni(file, section, text)
	case "yaml":
		return l.readYAML(file, section, text)
	default:
		return l.readJSON(file, section, text)
	}
}

// splitSection splits FILE:SECTION at the last colon (a path may hold
// none; a section never holds a slash).
func splitSection(spec string) (file, section string) {
	i := strings.LastIndexByte(spec, ':')
	if i < 0 || strings.ContainsRune(spec[i+1:], '/') {
		return spec, ""
	}
	if _, err := os.Stat(spec); err == nil {
		return spec, "" // a file whose name holds a colon
	}
	return spec[:i], spec[i+1:]
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// maxIniDepth bounds includes.
const maxIniDepth = 16

// DefaultIniSection is the section uWSGI reads from a file.
const DefaultIniSection = "uwsgi"

// magicTable computes uWSGI's magic variables for a configuration file.
// Every other %X becomes nothing, as in uWSGI (%% is a percent sign).
func (l *loader) magicTable(file, section string) map[byte]string {
	m := l.baseMagic()
	m['o'] = file
	abs := file
	if fi, err := os.Lstat(file); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if !filepath.IsAbs(file) {
			abs = filepath.Join(l.cwd, file)
		}
	} else if a, err := filepath.Abs(file); err == nil {
		abs = a
		if r, err := filepath.EvalSymlinks(a); err == nil {
			abs = r
		}
	}
	dir, base := filepath.Split(abs) // dir keeps its trailing slash, as uWSGI's %d
	m['p'], m['s'], m['d'] = abs, base, dir
	m['c'] = filepath.Base(dir)
	m['n'] = base
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		m['e'] = base[i+1:]
		m['n'] = base[:i]
	}
	for i, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' }) {
		if i > 9 {
			break
		}
		m[byte('0'+i)] = part
	}
	m['x'] = section
	if exe, err := os.Executable(); err == nil {
		m['b'] = exe
	}
	// %i the file's inode, %j uWSGI's djb33x hash of its path
	if fi, err := os.Lstat(abs); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			m['i'] = strconv.FormatUint(st.Ino, 10)
		}
	}
	m['j'] = djb33xHex(abs)
	if l.magic == nil {
		l.magic = m
	}
	for _, c := range "ODSPCENXIJ" {
		m[byte(c)] = l.magic[byte(c+'a'-'A')]
	}
	l.lastMagic = m
	return m
}

// baseMagic is the table uWSGI starts with, before any file is read.
func (l *loader) baseMagic() map[byte]string {
	return map[byte]string{
		'%': "%", '(': "%(",
		'v': l.cwd,
		'h': l.host,
		'k': strconv.Itoa(numCPU()),
		't': strconv.FormatInt(now().Unix(), 10),
		'T': strconv.FormatInt(now().UnixMicro(), 10),
		'V': UWSGIVersion,
		'u': strconv.Itoa(os.Getuid()),
		'U': userName(os.Getuid()),
		'g': strconv.Itoa(os.Getgid()),
		'G': groupName(os.Getgid()),
		'[': "\033",
	}
}

// djb33xHex is uWSGI's %j: the djb33x hash of s, its four bytes in
// memory (little-endian) order as upper-case hex.
func djb33xHex(s string) string {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = (h * 33) ^ uint32(s[i])
	}
	return fmt.Sprintf("%02X%02X%02X%02X", byte(h), byte(h>>8), byte(h>>16), byte(h>>24))
}

// UWSGIVersion is the uWSGI version uwsgo's options and %V follow.
const UWSGIVersion = "2.0.21"

// magicSub replaces %X by magic[X] in text ("" when X is not in the table).
func magicSub(text string, magic map[byte]string) string {
	if !strings.Contains(text, "%") {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '%' && i+1 < len(text) {
			b.WriteString(magic[text[i+1]])
			i++
			continue
		}
		b.WriteByte(text[i])
	}
	return b.String()
}

// ---------------------------------------------------------------- passes

// maxExpansions bounds the placeholder replacements in one value: past it
// the placeholders refer to each other in a loop.
const maxExpansions = 1000

// expand runs uWSGI's three passes over every value not yet carried out:
// $(VAR) environment variables, @(FILE) file contents, %(NAME) options
// and placeholders (with arithmetic: %(processes + 1)).
func (l *loader) expand() error {
	passes := []struct {
		sym  byte
		hook func(string) (string, bool, error)
	}{
		{'$', l.envValue},
		{'@', l.fileValue},
		{'%', l.placeholder},
	}
	for _, p := range passes {
		for _, it := range l.items {
			if it.immed || it.bare {
				continue
			}
			v, left, err := substitute(it.value, p.sym, p.hook)
			if err != nil {
				return errorf("%s: %v (%s)", it.what(), err, it.from)
			}
			if p.sym == '%' && requestVars[it.key] {
				left = nil // the request variables of a log format
			}
			for _, k := range left {
				l.warnings = append(l.warnings, fmt.Sprintf("%s: %c(%s) is not set: left as written (%s)", it.spelled(), p.sym, k, it.from))
			}
			it.value = v
		}
	}
	return nil
}

// requestVars are the options whose %(name) are request variables,
// expanded per request, not placeholders.
var requestVars = map[string]bool{"log-format": true, "logformat": true}

// expandNow expands $(VAR), @(FILE) and the %(name) already set in v.
func (l *loader) expandNow(v string) (string, error) {
	for _, h := range []struct {
		sym  byte
		hook func(string) (string, bool, error)
	}{{'$', l.envValue}, {'@', l.fileValue}, {'%', l.placeholder}} {
		var err error
		if v, _, err = substitute(v, h.sym, h.hook); err != nil {
			return "", err
		}
	}
	return v, nil
}

// substitute replaces every sym(KEY) in v by hook(KEY); a KEY the hook
// does not know is left as written, and returned in left. Parentheses
// nest: %(a(b)) is key a(b).
func substitute(v string, sym byte, hook func(string) (string, bool, error)) (string, []string, error) {
	n := 0
	var left []string
	for start := 0; ; {
		i := strings.Index(v[start:], string([]byte{sym, '('}))
		if i < 0 {
			return v, left, nil
		}
		i += start
		depth, j := 0, i+2
		for ; j < len(v); j++ {
			if v[j] == '(' {
				depth++
			} else if v[j] == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		if j >= len(v) {
			return v, left, nil // unclosed: kept as written, as uWSGI does
		}
		key := v[i+2 : j]
		val, ok, err := hook(key)
		if err != nil {
			return "", nil, err
		}
		if !ok {
			left = append(left, key)
			start = j + 1
			continue
		}
		n++
		if n > maxExpansions {
			return "", nil, fmt.Errorf("placeholders refer to each other in a loop (%c(%s))", sym, key)
		}
		v = v[:i] + val + v[j+1:]
		start = 0
	}
}

// envValue is $(VAR), $(VAR:-DEFAULT) (unset or empty) and $(VAR-DEFAULT) (unset).
func (l *loader) envValue(key string) (string, bool, error) {
	if name, def, ok := strings.Cut(key, ":-"); ok {
		if v, set := l.environ(name); set && v != "" {
			return v, true, nil
		}
		return def, true, nil
	}
	if name, def, ok := strings.Cut(key, "-"); ok {
		if v, set := l.environ(name); set {
			return v, true, nil
		}
		return def, true, nil
	}
	v, ok := l.environ(key)
	return v, ok, nil
}

// fileValue is @(FILE): the file's content, less one trailing newline.
func (l *loader) fileValue(key string) (string, bool, error) {
	data, err := os.ReadFile(key)
	if err != nil {
		return "", false, fmt.Errorf("@(%s): cannot read: %v", key, unwrapPath(err))
	}
	s := string(data)
	if strings.HasSuffix(s, "\n") || strings.HasSuffix(s, "\r") {
		s = s[:len(s)-1]
	}
	return s, true, nil
}

// lookupOpt is the value of the first option or placeholder named key.
func (l *loader) lookupOpt(key string) (string, bool) {
	for _, it := range l.items {
		if it.key == key {
			if it.bare {
				return "", true
			}
			return it.value, true
		}
	}
	return "", false
}

// placeholder is %(NAME), or uWSGI's pipeline %(a b + 1): words are
// options (or numbers) concatenated, and + - * / between them compute.
func (l *loader) placeholder(key string) (string, bool, error) {
	if !strings.Contains(key, " ") {
		v, ok := l.lookupOpt(key)
		return v, ok, nil
	}
	var cur string
	have := false
	op := ""
	for _, w := range strings.Fields(key) {
		switch w {
		case "+", "-", "*", "/":
			op = w
			continue
		case "++", "--":
			if have {
				n, _ := strconv.ParseInt(cur, 10, 64)
				if w == "++" {
					n++
				} else {
					n--
				}
				cur = strconv.FormatInt(n, 10)
			}
			op = ""
			continue
		}
		val := w
		if _, err := strconv.ParseInt(w, 10, 64); err != nil {
			val, _ = l.lookupOpt(w)
		}
		if op == "" {
			cur += val
		} else {
			a, _ := strconv.ParseInt(strings.TrimSpace(cur), 10, 64)
			b, _ := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			switch op {
			case "+":
				a += b
			case "-":
				a -= b
			case "*":
				a *= b
			case "/":
				if b == 0 {
					a = 0
				} else {
					a /= b
				}
			}
			cur = strconv.FormatInt(a, 10)
		}
		have = true
		op = ""
	}
	return cur, true, nil
}

// ---------------------------------------------------------------- apply

// apply checks every option and sets Options.
func (l *loader) apply() (*Loaded, error) {
	o := Defaults()
	o.Warnings = append(o.Warnings, l.warnings...)
	o.Magic = l.lastMagic
	if o.Magic == nil {
		o.Magic = l.baseMagic()
	}
	res := &Loaded{Options: &o}
	strict := false
	for _, it := range l.items {
		if opt := Lookup(it.key); opt != nil && opt.Name == "strict" && !it.placed {
			on, err := parseFlag(it)
			if err != nil {
				return nil, err
			}
			strict = on
		}
	}
	used := l.used
	ov := reflect.ValueOf(&o).Elem()
	noted := map[string]bool{}
	for _, it := range l.items {
		o.Raw = append(o.Raw, Entry{Key: it.key, Value: it.value, Bare: it.bare, From: it.from})
		opt := Lookup(it.key)
		if it.placed {
			if opt != nil {
				return nil, errorf("%s: %q is an option and cannot be a placeholder (%s)", it.key, it.key, it.from)
			}
			continue
		}
		if opt == nil {
			if err := l.unknown(it, strict, used, &o); err != nil {
				return nil, err
			}
			continue
		}
		if err := setOption(ov, opt, it, res, &o); err != nil {
			return nil, err
		}
		if opt.Kind == KindFlag {
			if on, _ := parseFlag(it); !on {
				continue // vacuum = false asks for nothing
			}
		}
		switch opt.Status {
		case NoOp:
			if !noted[opt.Name] {
				noted[opt.Name] = true
				o.Accepted = append(o.Accepted, Note{Option: opt.Name, Reason: opt.Reason})
			}
		case NotImplemented:
			if noted[opt.Name] {
				continue // one warning per option
			}
			noted[opt.Name] = true
			msg := fmt.Sprintf("option %s is not implemented yet and has no effect (%s)", it.key, it.from)
			if opt.Reason != "" {
				msg = fmt.Sprintf("option %s is not implemented yet and has no effect: %s (%s)", it.key, opt.Reason, it.from)
			}
			// Not fatal under strict: uWSGI's strict is about options it
			// does not know, and a strict configuration should start.
			o.Warnings = append(o.Warnings, msg)
		}
	}
	if o.ShowConfig {
		res.ShowConfig = showConfig(o.Raw)
	}
	// What to print is printed even when the options make no sense, as
	// uWSGI prints it before it fails.
	if err := o.Normalize(); err != nil {
		return res, err
	}
	if err := o.Validate(); err != nil {
		return res, err
	}
	return res, nil
}

// unknown handles an option that is not in the table.
func (l *loader) unknown(it *item, strict bool, used map[string]bool, o *Options) error {
	if it.flag != "" {
		msg := fmt.Sprintf("unknown option %s on the command line", it.flag)
		if strings.HasPrefix(it.flag, "--") && uwsgiOptions[it.key] {
			msg = fmt.Sprintf("uWSGI option %s is not supported by uwsgo (command line)", it.flag)
		} else if s := Suggest(strings.TrimLeft(it.flag, "-")); s != "" {
			msg += fmt.Sprintf(" (closest: --%s)", s)
		}
		if strict {
			return &Error{Code: 2, Msg: msg}
		}
		o.Warnings = append(o.Warnings, msg+"; ignored")
		return nil
	}
	if used[it.key] && !strict && !it.bare {
		return nil // a placeholder
	}
	msg := fmt.Sprintf("unknown option %q (%s)", it.key, it.from)
	if used[it.key] && strict {
		msg += ": use set-placeholder for a placeholder under strict"
	} else if uwsgiOptions[it.key] {
		msg = fmt.Sprintf("uWSGI option %q is not supported by uwsgo (%s)", it.key, it.from)
	} else if s := misspelt[it.key]; s != "" {
		msg += fmt.Sprintf(" (uWSGI spells it %s)", s)
	} else if s := Suggest(it.key); s != "" {
		msg += fmt.Sprintf(" (closest: %s)", s)
	}
	if strict {
		return errorf("[strict] %s", msg)
	}
	o.Warnings = append(o.Warnings, msg+"; ignored")
	return nil
}

// setOption parses it by its option's kind and sets the field.
func setOption(ov reflect.Value, opt *Option, it *item, res *Loaded, o *Options) error {
	if opt.Status == Dialect {
		switch opt.Name {
		case "print":
			res.Prints = append(res.Prints, it.value)
			return nil
		case "plugins":
			if it.bare {
				return errorf("%s needs a value (%s)", it.spelled(), it.from)
			}
			for _, p := range strings.Split(it.value, ",") {
				p = strings.TrimSpace(p)
				if p == "" || builtinPlugin(p) {
					continue
				}
				o.Warnings = append(o.Warnings, fmt.Sprintf("plugin %q is not built into uwsgo: ignored (%s)", p, it.from))
			}
		}
		if opt.Field == "" {
			return nil
		}
	}
	f := ov.FieldByName(opt.Field)
	if opt.Field == "" || !f.IsValid() {
		// a NoOp or NotImplemented option without a field: check its value only
		_, err := optionValue(opt, it)
		return err
	}
	v, err := optionValue(opt, it)
	if err != nil {
		return err
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Int, reflect.Int64:
		n, err := parseInt(v)
		if err != nil {
			return errorf("%s: expected a whole number (%s)", it.what(), it.from)
		}
		if n < 0 {
			return errorf("%s: must not be negative (%s)", it.what(), it.from)
		}
		f.SetInt(n)
	case reflect.Bool:
		on, err := parseFlag(it)
		if err != nil {
			return err
		}
		f.SetBool(on)
	case reflect.Slice:
		f.Set(reflect.Append(f, reflect.ValueOf(v)))
	}
	return nil
}

// optionValue is the text value of it: its value, or the option's
// implicit value when given bare.
func optionValue(opt *Option, it *item) (string, error) {
	if opt.Kind == KindFlag {
		if _, err := parseFlag(it); err != nil {
			return "", err
		}
		return it.value, nil
	}
	if it.bare {
		if opt.Optional {
			return opt.Implicit, nil
		}
		return "", errorf("%s needs a value (%s)", it.spelled(), it.from)
	}
	if opt.Optional && opt.Kind == KindInt {
		// memory-report = true: what the configurations mean by it
		switch asciiLower(stripComment(it.value)) {
		case "true", "yes", "on":
			return opt.Implicit, nil
		case "false", "no", "off":
			return "0", nil
		}
	}
	if opt.Kind == KindInt {
		if _, err := parseInt(it.value); err != nil {
			return "", errorf("%s: expected a whole number (%s)", it.what(), it.from)
		}
	}
	return it.value, nil
}

func builtinPlugin(p string) bool {
	p = strings.TrimSuffix(p, "_plugin.so")
	p = strings.TrimSuffix(p, ".so")
	if builtinPlugins[p] {
		return true
	}
	if v, ok := strings.CutPrefix(p, "python3"); ok && v != "" {
		_, err := strconv.Atoi(v)
		return err == nil // python311, python312, ...
	}
	return false
}

// parseInt reads a whole number; a comment after it (`4 # workers`) is
// tolerated, as uWSGI's atoi tolerates it.
func parseInt(v string) (int64, error) {
	v = stripComment(v)
	return strconv.ParseInt(v, 10, 64)
}

// stripComment removes a trailing ` # comment` or ` ; comment`.
func stripComment(v string) string {
	v = strings.TrimSpace(v)
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i])
		}
	}
	return v
}

// parseFlag reads a flag's value: bare or empty is true; true/1/yes/on
// and false/0/no/off (any case) as uWSGI reads them.
func parseFlag(it *item) (bool, error) {
	if it.bare {
		return true, nil
	}
	switch asciiLower(stripComment(it.value)) {
	case "", "true", "1", "yes", "on", "y":
		return true, nil
	case "false", "0", "no", "off", "n":
		return false, nil
	}
	return false, errorf("%s: expected true or false (%s)", it.what(), it.from)
}

// placeholderNames lists the NAMEs of the %(NAME) in v (each word of an
// arithmetic one).
func placeholderNames(v string) []string {
	var names []string
	for {
		i := strings.Index(v, "%(")
		if i < 0 {
			return names
		}
		j := strings.IndexByte(v[i+2:], ')')
		if j < 0 {
			return names
		}
		names = append(names, strings.Fields(v[i+2:i+2+j])...)
		v = v[i+2+j+1:]
	}
}

// showConfig renders the options as uWSGI's --show-config does.
func showConfig(raw []Entry) string {
	var b strings.Builder
	b.WriteString("\n;uWSGI instance configuration\n[uwsgi]\n")
	for _, e := range raw {
		if e.Bare {
			fmt.Fprintf(&b, "%s = true\n", e.Key)
		} else {
			fmt.Fprintf(&b, "%s = %s\n", e.Key, e.Value)
		}
	}
	b.WriteString(";end of configuration\n\n")
	return b.String()
}

// misspelt are names configurations use that uWSGI does not have (it
// ignores them silently), with the option they mean.
var misspelt = map[string]string{
	"logfile": "logto", "log-file": "logto", "log-to": "logto", "pid-file": "pidfile",
	"virtual-env": "virtualenv", "python-home": "home", "num-processes": "processes",
}

// Suggest returns the option name closest to key, if one is close.
func Suggest(key string) string {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 1+len(key)/4
	for _, n := range names {
		if d := editDistance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
