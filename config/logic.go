package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// logicState is an open if-* or for-* block, as uWSGI's: every option up
// to endif/endfor goes through it. Blocks do not nest (a second if
// replaces the first), as in uWSGI.
type logicState struct {
	kind   string   // "if", "for" or "else"
	failed bool     // an if whose condition is false
	value  string   // %(_) for an if that holds
	words  []string // the values of a for
}

// startLogic opens the block an if-* or for-* option starts.
func (l *loader) startLogic(canon string, it *item) (*logicState, error) {
	arg := it.value
	st := &logicState{kind: "if"}
	cond := func(ok bool, v string) (*logicState, error) {
		st.failed = !ok
		st.value = v
		l.lastIfFailed = !ok
		return st, nil
	}
	envCheck := func(negate bool) (*logicState, error) {
		name, want, hasWant := strings.Cut(arg, "=")
		v, set := l.environ(name)
		ok := set && (!hasWant || v == want)
		if negate {
			return cond(!ok, v)
		}
		return cond(ok, v)
	}
	optCheck := func(negate bool) (*logicState, error) {
		name, want, hasWant := strings.Cut(arg, "=")
		v, set := l.lookupOpt(name)
		ok := set && (!hasWant || v == want)
		if negate {
			return cond(!ok, v)
		}
		return cond(ok, v)
	}
	fi, statErr := os.Stat(arg)
	switch canon {
	case "if-env":
		return envCheck(false)
	case "if-not-env":
		return envCheck(true)
	case "if-opt":
		return optCheck(false)
	case "if-not-opt":
		return optCheck(true)
	case "if-exists":
		return cond(statErr == nil, arg)
	case "if-not-exists":
		return cond(statErr != nil, arg)
	case "if-file":
		return cond(statErr == nil && fi.Mode().IsRegular(), arg)
	case "if-not-file":
		return cond(!(statErr == nil && fi.Mode().IsRegular()), arg)
	case "if-dir":
		return cond(statErr == nil && fi.IsDir(), arg)
	case "if-not-dir":
		return cond(!(statErr == nil && fi.IsDir()), arg)
	case "if-hostname":
		return cond(l.host == arg, arg)
	case "if-not-hostname":
		return cond(l.host != arg, arg)
	case "if-plugin":
		return cond(builtinPlugin(arg), arg)
	case "if-not-plugin":
		return cond(!builtinPlugin(arg), arg)
	}
	st.kind = "for"
	switch canon {
	case "for":
		st.words = strings.Fields(arg)
	case "for-glob":
		m, err := filepath.Glob(arg)
		if err != nil {
			return nil, errorf("for-glob = %s: bad pattern: %v (%s)", arg, err, it.from)
		}
		if len(m) == 0 {
			m = []string{arg} // GLOB_NOCHECK, as uWSGI
		}
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				p += "/" // GLOB_MARK
			}
			st.words = append(st.words, p)
		}
	case "for-readline":
		f, err := os.Open(arg)
		if err != nil {
			return nil, errorf("for-readline = %s: cannot read: %v (%s)", arg, unwrapPath(err), it.from)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			st.words = append(st.words, strings.TrimRight(sc.Text(), "\r\n"))
		}
		if err := sc.Err(); err != nil {
			return nil, errorf("for-readline = %s: cannot read: %v (%s)", arg, err, it.from)
		}
	case "for-times":
		n, err := parseInt(arg)
		if err != nil {
			return nil, errorf("for-times = %q: expected a whole number (%s)", arg, it.from)
		}
		for i := int64(1); i <= n; i++ {
			st.words = append(st.words, strconv.FormatInt(i, 10))
		}
	}
	return st, nil
}

// run passes one option through the block: kept (once, or once per word
// of a for) with %(_) replaced, or dropped.
func (st *logicState) run(l *loader, it *item) error {
	switch st.kind {
	case "if":
		if st.failed {
			return nil
		}
		return l.storeInBlock(it, st.value)
	case "else":
		if !st.failed {
			return nil
		}
		return l.storeInBlock(it, "%(_)")
	}
	for _, w := range st.words {
		if err := l.storeInBlock(it, w); err != nil {
			return err
		}
	}
	return nil
}

// storeInBlock stores a copy of it with %(_) replaced by v. An if or for
// it starts replaces the open block, as in uWSGI.
func (l *loader) storeInBlock(it *item, v string) error {
	cp := *it
	cp.value = strings.ReplaceAll(it.value, "%(_)", v)
	canon := cp.key
	if o := Lookup(cp.key); o != nil {
		canon = o.Name
	}
	open := l.logic
	l.logic = nil
	err := l.store(&cp, canon)
	if l.logic == nil {
		l.logic = open
	}
	return err
}
