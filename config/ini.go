package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// DefaultIniSection is the section uWSGI reads from an ini file.
const DefaultIniSection = "uwsgi"

// maxIniDepth bounds `ini = other.ini` includes.
const maxIniDepth = 16

type flagInfo struct {
	name   string // first (canonical) long name
	isBool bool
}

// flagTable maps every name and alias of Flags() to its flag.
func flagTable() map[string]flagInfo {
	t := map[string]flagInfo{}
	for _, f := range Flags() {
		names := f.Names()
		isBool := false
		if a, ok := f.(aliased); ok {
			names = a.allNames()
			_, isBool = a.fullFlag.(*cli.BoolFlag)
		}
		for _, n := range names {
			t[n] = flagInfo{name: names[0], isBool: isBool}
		}
	}
	return t
}

// ExpandIni rewrites argv (os.Args style: args[0] is the program name and
// is kept as is): every `--ini FILE` (also `--ini=FILE`, `-ini FILE`) is
// replaced, in place, by the options its [uwsgi] section holds, so the
// command line after it can still override them. As with uWSGI,
// `FILE:SECTION` reads another section, and a bare argument ending in .ini
// is loaded as if given to --ini. Arguments after "--" are left alone.
//
// ini format (uWSGI's): `key = value` lines under [uwsgi]; keys are long
// option names without dashes; a repeated key is a repeated option; `#` and
// `;` start comment lines. Booleans take true/1/yes/on (or an empty value,
// or the bare key) and false/0/no/off (the option is then left out). In
// values, uWSGI's magic variables expand: %d the file's absolute directory
// with a trailing slash, %n the file name without extension, %s the file
// name, %p its absolute path, %e its extension, %c the name of its
// directory, %o the path as given, %v the current directory, %h the host
// name, %0..%9 the directory's path components; %(name) expands a magic
// variable or a key set earlier in the same file (a key that is not an
// option but is used as %(key) somewhere in the file is a placeholder, as in
// uWSGI); $(VAR) expands an environment variable. `ini = other.ini`
// includes another file. Relative paths stay relative (to the current
// directory, as uWSGI does).
//
// Errors name the file (and line): a missing file, a missing section, an
// unknown key, a malformed line or a bad boolean.
func ExpandIni(args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	table := flagTable()
	out := []string{args[0]}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			name, val, hasVal := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
			if name == flagIni {
				if !hasVal {
					if i+1 >= len(args) {
						return nil, errors.New("--ini: missing file name")
					}
					i++
					val = args[i]
				}
				opts, err := loadIni(val, table, nil)
				if err != nil {
					return nil, err
				}
				out = append(out, opts...)
				continue
			}
			out = append(out, a)
			// Keep the value of `--opt VALUE` with its option, so that
			// a value spelled like a file never gets expanded.
			if f, ok := table[name]; ok && !f.isBool && !hasVal && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		if strings.HasSuffix(a, ".ini") {
			opts, err := loadIni(a, table, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, opts...)
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

type iniEntry struct {
	line  int
	key   string
	value string
	bare  bool // a line holding only a key, no '='
}

// loadIni reads spec ("file" or "file:section") and returns its options as
// command-line arguments. stack holds the files being included, to refuse
// include loops.
func loadIni(spec string, table map[string]flagInfo, stack []string) ([]string, error) {
	if spec == "" {
		return nil, errors.New("--ini: empty file name")
	}
	file, section := spec, DefaultIniSection
	if _, err := os.Stat(file); err != nil {
		if i := strings.LastIndexByte(spec, ':'); i > 0 {
			if _, err2 := os.Stat(spec[:i]); err2 == nil {
				file = spec[:i]
				if s := spec[i+1:]; s != "" {
					section = s
				}
			}
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--ini %s: file not found", file)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("--ini %s: cannot read: %v", file, err)
	}
	magic := magicTable(file)
	self := magic['p'] + ":" + section
	for _, s := range stack {
		if s == self {
			return nil, fmt.Errorf("--ini %s: includes itself (via %s)", file, strings.Join(stack, " -> "))
		}
	}
	if len(stack) >= maxIniDepth {
		return nil, fmt.Errorf("--ini %s: ini files nested more than %d deep", file, maxIniDepth)
	}
	stack = append(stack, self)

	entries, found, err := parseIni(file, string(data), section)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("--ini %s: no [%s] section", file, section)
	}

	// Keys that are no option but are used as %(key) are placeholders.
	referenced := map[string]bool{}
	for _, e := range entries {
		for _, name := range placeholderNames(e.value) {
			referenced[name] = true
		}
	}

	var out []string
	vars := map[string]string{}
	for _, e := range entries {
		where := fmt.Sprintf("--ini %s: line %d", file, e.line)
		v, err := expandValue(e.value, magic, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", where, e.key, err)
		}
		if e.key == flagIni {
			if e.bare || v == "" {
				return nil, fmt.Errorf("%s: ini: missing file name", where)
			}
			sub, err := loadIni(v, table, stack)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			vars[e.key] = v
			continue
		}
		f, known := table[e.key]
		if !known || len(e.key) == 1 { // ini keys are long names only
			if referenced[e.key] && !e.bare {
				vars[e.key] = v
				continue
			}
			msg := fmt.Sprintf("%s: unknown option %q", where, e.key)
			if s := suggest(e.key, table); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, errors.New(msg)
		}
		vars[e.key] = v
		if f.isBool {
			on, ok := parseIniBool(v)
			if !ok {
				return nil, fmt.Errorf("%s: %s = %q: expected true/false, 1/0, yes/no or on/off", where, e.key, v)
			}
			if on {
				out = append(out, "--"+f.name)
			}
			continue
		}
		if e.bare {
			return nil, fmt.Errorf("%s: %s needs a value (%s = VALUE)", where, e.key, e.key)
		}
		out = append(out, "--"+f.name+"="+v)
	}
	return out, nil
}

// parseIni returns the entries of every [section] in data, in order.
func parseIni(file, data, section string) (entries []iniEntry, found bool, err error) {
	data = strings.TrimPrefix(data, "\ufeff")
	in := false
	for n, raw := range strings.Split(data, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, false, fmt.Errorf("--ini %s: line %d: malformed section header %q", file, n+1, line)
			}
			in = strings.TrimSpace(line[1:len(line)-1]) == section
			if in {
				found = true
			}
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, false, fmt.Errorf("--ini %s: line %d: expected key = value, got %q", file, n+1, line)
		}
		entries = append(entries, iniEntry{line: n + 1, key: k, value: strings.TrimSpace(v), bare: !ok})
	}
	return entries, found, nil
}

func parseIniBool(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "", "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// magicTable computes uWSGI's magic variables for an ini file.
func magicTable(file string) map[byte]string {
	m := map[byte]string{'o': file}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	dir, base := filepath.Split(abs) // dir keeps its trailing slash, as uWSGI's %d
	m['p'] = abs
	m['s'] = base
	m['d'] = dir
	m['c'] = filepath.Base(dir)
	if ext := filepath.Ext(file); ext != "" {
		m['e'] = ext[1:]
	}
	m['n'] = strings.TrimSuffix(base, filepath.Ext(base))
	for i, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' }) {
		if i > 9 {
			break
		}
		m[byte('0'+i)] = part
	}
	if wd, err := os.Getwd(); err == nil {
		m['v'] = wd
	}
	if h, err := os.Hostname(); err == nil {
		m['h'] = h
	}
	return m
}

// placeholderNames lists the NAMEs of the %(NAME) in v.
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
		names = append(names, v[i+2:i+2+j])
		v = v[i+2+j+1:]
	}
}

// expandValue expands %X magic variables, %(name) placeholders and $(VAR)
// environment variables in v. An unknown %X is kept as written.
func expandValue(v string, magic map[byte]string, vars map[string]string) (string, error) {
	if !strings.ContainsAny(v, "%$") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c != '%' && c != '$') || i+1 >= len(v) {
			b.WriteByte(c)
			continue
		}
		next := v[i+1]
		if next == '(' {
			j := strings.IndexByte(v[i+2:], ')')
			if j < 0 {
				return "", fmt.Errorf("unclosed %c( in %q", c, v)
			}
			name := v[i+2 : i+2+j]
			i += 2 + j
			if c == '$' {
				b.WriteString(os.Getenv(name))
				continue
			}
			if len(name) == 1 {
				if s, ok := magic[name[0]]; ok {
					b.WriteString(s)
					continue
				}
			}
			s, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("unknown placeholder %%(%s) (set %s = VALUE earlier in the file)", name, name)
			}
			b.WriteString(s)
			continue
		}
		if c == '%' {
			if s, ok := magic[next]; ok {
				b.WriteString(s)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// suggest returns the long option name closest to key, if one is close.
func suggest(key string, table map[string]flagInfo) string {
	names := make([]string, 0, len(table))
	for n := range table {
		if len(n) > 1 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	best, bestD := "", 3
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
