package pyhost

// #include <stddef.h>
import "C"

// WSBlock, if set, is called by a websocket_recv() that must block the
// worker: the default one-core mode, where nothing else could run
// meanwhile anyway (uWSGI's sync mode blocks too). It runs on the hub's
// thread, on its own stack (that mode has no green stacks), with the GIL
// held, and returns once a message or the close is queued for core.
var WSBlock func(core int)

//export uwsgoWSBlock
func uwsgoWSBlock(core C.int) {
	if WSBlock != nil {
		WSBlock(int(core))
	}
}
