package procman

import (
	"fmt"
	"strconv"
	"strings"
)

// Extra is a process the master runs beside the workers, as uWSGI's
// master runs its spoolers and mules: the same binary started again, with
// the same inherited files as a worker, told what it is by EnvExtra. The
// master starts extras after the workers, respawns them as it respawns
// workers (back-off included), sends them the same stop and reload
// signals, and never applies harakiri or --max-worker-lifetime to them.
type Extra struct {
	Kind  string   // "spooler", "mule": what EnvExtra says, and the logs
	Index int      // 1-based within Kind
	Name  string   // what ps shows when names are on ("uWSGI spooler")
	Env   []string // more variables for this process only
	Dir   string   // a spooler's directory (the stats' "dir")
	Patch string   // what a mule runs (--mule FILE.py or MODULE:CALLABLE; "": it waits for messages)
}

// EnvExtra tells an extra process what it is: "spooler 1", "mule 2".
const EnvExtra = "UWSGO_EXTRA"

// EnvInheritFDs lists, comma-separated, the fds on which every process the
// master starts finds Spec.Inherit, in order. It is left in the
// environment: the uwsgi module's Python parts read it and remove it.
const EnvInheritFDs = "UWSGO_INHERIT_FDS"

func (e *Extra) String() string { return e.Kind + " " + strconv.Itoa(e.Index) }

// parseExtra reads EnvExtra's value.
func parseExtra(v string) (kind string, index int, err error) {
	k, n, ok := strings.Cut(v, " ")
	index, aerr := strconv.Atoi(n)
	if !ok || k == "" || aerr != nil || index < 1 {
		return "", 0, fmt.Errorf("%s=%q: want KIND N", EnvExtra, v)
	}
	return k, index, nil
}

// who names a slot's process in the master's log lines.
func (s *slot) who() string {
	if s.extra != nil {
		return s.extra.String()
	}
	return "worker " + strconv.Itoa(s.id)
}
