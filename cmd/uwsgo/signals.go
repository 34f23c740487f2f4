package main

import (
	"strconv"

	"github.com/uwsgo/uwsgo/hub"
	"github.com/uwsgo/uwsgo/procman"
	"github.com/uwsgo/uwsgo/pyhost"
)

// withMasterChannel connects the hub to this process's channel to the
// master, when a master started it: the uwsgi module writes signals,
// timers and monitors to it, and the hub runs the signal handlers the
// master sends (each as a job on a free core). hubOf returns the hub
// once it is made (the messages come only after it starts).
func withMasterChannel(cfg *hub.Config, hubOf func() *hub.Hub) {
	ch := procman.MasterChannel()
	if ch == nil {
		return
	}
	cfg.Python.MasterFD = ch.FD()
	cfg.Master = ch
	cfg.OnMaster = func(msg []byte) {
		switch {
		case len(msg) == 2 && msg[0] == procman.MsgRun:
			hubOf().Job(pyhost.AppSignal, []string{"UWSGI_SIGNAL", strconv.Itoa(int(msg[1]))})
		case len(msg) >= 1 && msg[0] == procman.MsgKnown:
			pyhost.MarkSignalsKnown(msg[1:])
		}
	}
}
