package config

import (
	"strings"
)

// configExts are the file names a bare argument is read as.
var configExts = []string{".ini", ".yaml", ".yml", ".json", ".js"}

func isConfigFile(a string) bool {
	file, _ := splitSection(a)
	for _, e := range configExts {
		if strings.HasSuffix(file, e) {
			return true
		}
	}
	return false
}

// looksLikeValue tells whether a, after a flag that may take a value,
// is that value rather than an argument of its own.
func looksLikeValue(a string) bool {
	return a != "" && a[0] != '-' && !isConfigFile(a) &&
		!strings.HasSuffix(a, ".py") && !strings.HasSuffix(a, ".wsgi")
}

// readArgs reads the command line as uWSGI's getopt_long does: --name
// VALUE, --name=VALUE, -s VALUE, -sVALUE, -Mp 4; flags take no value;
// options whose value is optional take one only with = (or when the next
// argument looks like one). A bare FILE.ini/.yaml/.yml/.json is read as a
// configuration file, a bare FILE.py/.wsgi is the app, and a bare
// MODULE:CALLABLE (with a dot) the module, as uWSGI's python plugin takes
// them. Arguments after "--" are all bare.
func (l *loader) readArgs(args []string) error {
	cl := Source{}
	dashdash := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if dashdash || a == "-" || len(a) < 2 || a[0] != '-' {
			if err := l.bareArg(a); err != nil {
				return err
			}
			continue
		}
		if a == "--" {
			dashdash = true
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			opt := Lookup(name)
			it := &item{key: name, value: val, from: cl}
			switch {
			case opt == nil:
				it.flag = "--" + name
				if !hasVal {
					// Keep its value with it: most options take one.
					if i+1 < len(args) && looksLikeValue(args[i+1]) {
						i++
						it.value = args[i]
					} else {
						it.bare = true
					}
				}
			case hasVal:
			case opt.Kind == KindFlag && !opt.Optional:
				it.bare = true
			case opt.Optional:
				if i+1 < len(args) && looksLikeValue(args[i+1]) {
					i++
					it.value = args[i]
				} else {
					it.bare = true
				}
			default:
				if i+1 >= len(args) {
					return errorf("--%s needs a value (command line)", name)
				}
				i++
				it.value = args[i]
			}
			if err := l.add(it); err != nil {
				return err
			}
			continue
		}
		// short flags, possibly bundled: -Mp 4, -s:3031
		for j := 1; j < len(a); j++ {
			c := a[j]
			opt := byShort[c]
			if opt == nil {
				it := &item{key: string(c), flag: "-" + string(c), bare: true, from: cl}
				if err := l.add(it); err != nil {
					return err
				}
				continue
			}
			it := &item{key: opt.Name, from: cl}
			if opt.Kind == KindFlag && !opt.Optional {
				it.bare = true
			} else if j+1 < len(a) {
				it.value = a[j+1:]
				j = len(a)
			} else if opt.Optional {
				if i+1 < len(args) && looksLikeValue(args[i+1]) {
					i++
					it.value = args[i]
				} else {
					it.bare = true
				}
			} else {
				if i+1 >= len(args) {
					return errorf("-%c (--%s) needs a value (command line)", c, opt.Name)
				}
				i++
				it.value = args[i]
			}
			if err := l.add(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// bareArg is an argument that is no option.
func (l *loader) bareArg(a string) error {
	cl := Source{}
	switch {
	case isConfigFile(a):
		file, _ := splitSection(a)
		kind := "ini"
		switch {
		case strings.HasSuffix(file, ".yaml"), strings.HasSuffix(file, ".yml"):
			kind = "yaml"
		case strings.HasSuffix(file, ".json"), strings.HasSuffix(file, ".js"):
			kind = "json"
		}
		// read as uWSGI reads it: not recorded as an option of its own
		return l.include(kind, a, cl)
	case strings.HasSuffix(a, ".py") || strings.HasSuffix(a, ".wsgi"):
		return l.add(&item{key: "wsgi-file", value: a, from: cl})
	case strings.Contains(a, ":") && strings.Contains(a, "."):
		return l.add(&item{key: "module", value: a, from: cl})
	}
	return errorf("unexpected argument %q on the command line: options are spelled --name VALUE; a bare argument must be a configuration file (.ini, .yaml, .json) or the app (.py, .wsgi, MODULE:CALLABLE)", a)
}
