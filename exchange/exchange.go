// Package exchange carries requests from the network plane to the hub and
// responses back. It is the only thing the two planes share: the network
// plane never touches Python and the hub never touches a socket (in uwsgo
// both run on the hub's thread, but either may be driven from any
// goroutine, as the tests do).
package exchange

import (
	"os"
	"sync"
	"sync/atomic"
)

// Request is one parsed request, ready for the hub to turn into a WSGI
// environ.
type Request struct {
	// Vars holds CGI-style environ pairs, flattened: key0, value0, key1,
	// value1, ... (REQUEST_METHOD, SCRIPT_NAME, PATH_INFO, QUERY_STRING,
	// CONTENT_TYPE, CONTENT_LENGTH, SERVER_NAME, SERVER_PORT,
	// SERVER_PROTOCOL, REMOTE_ADDR, REMOTE_PORT, HTTP_*). Values are
	// byte strings that the hub decodes as latin-1, as PEP 3333 says.
	// The slice is the network plane's again once the response has
	// ended (the next request on the connection fills the same array):
	// the hub reads it when the request starts, and keeps nothing of it.
	Vars []string
	// Scheme is wsgi.url_scheme ("http" or "https").
	Scheme string
	// Body is the request body when it fits in memory.
	Body []byte
	// BodyFile is the body spooled to an unlinked temporary file when it
	// is larger than the memory limit; the hub reads it from offset 0 and
	// closes it when the request ends.
	BodyFile *os.File
	// Resp receives the response.
	Resp *Response
	// ConnFD is the client connection's fd (uwsgi.connection_fd()); 0
	// when there is none (a signal handler's job).
	ConnFD int
}

// Head is the status line and headers given to start_response.
type Head struct {
	Status  string   // "200 OK"
	Headers []string // name0, value0, name1, value1, ...
}

// Response is a bounded stream of output from one core to one client. The
// hub produces, the network plane consumes.
type Response struct {
	mu      sync.Mutex
	head    *Head
	chunks  [][]byte
	files   []FileSpan
	queued  int
	done    bool
	close   bool // close the connection after it (Ending.Close)
	err     error
	notify  func() // tells the consumer there is something new
	onDrain func()
	gone    atomic.Bool

	// for the request log line
	core     int    // which core serves the request
	switches int    // how many times the core switched away while serving it
	logVars  string // uwsgi.set_logvar's, "key\x00value\x00" ...
	logThis  bool   // uwsgi.log_this_request() was called
	app      int    // which of the worker's apps (mounts) serves it

	ws       WSSink      // after a 101: where the connection's messages go
	wsResume atomic.Bool // the request took its queued messages: read again
}

// WSResume tells the network plane to read the connection again after
// WSMessage said false (any goroutine).
func (r *Response) WSResume() {
	r.wsResume.Store(true)
	r.signal()
}

// WSResumed reports (once) that WSResume was called.
func (r *Response) WSResumed() bool { return r.wsResume.Swap(false) }

// WSSink receives what a connection switched to websocket mode reads:
// whole messages, then the end. The hub sets it when the app answers
// 101; the network plane calls it on the loop's thread.
type WSSink interface {
	// WSMessage: a whole message (text or binary) arrived; the slice is
	// the sink's. false: the request has enough queued; read no more
	// until it calls the response's WSResume.
	WSMessage(data []byte) (more bool)
	// WSClosed: the connection closed, or is closing; no more messages.
	WSClosed()
}

// SetWSSink makes s the receiver of the connection's websocket messages
// (before the 101 head is set).
func (r *Response) SetWSSink(s WSSink) {
	r.mu.Lock()
	r.ws = s
	r.mu.Unlock()
}

// WSSink is what SetWSSink set, or nil.
func (r *Response) WSSink() WSSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ws
}

// SetApp records which app serves the request (for the stats).
func (r *Response) SetApp(app int) {
	r.mu.Lock()
	r.app = app
	r.mu.Unlock()
}

// App returns what SetApp recorded (0 if nothing).
func (r *Response) App() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.app
}

// SetStats records, for the log, which core serves the request and how
// often it switched away (the hub calls it at start and at the end).
func (r *Response) SetStats(core, switches int) {
	r.mu.Lock()
	r.core, r.switches = core, switches
	r.mu.Unlock()
}

// Stats returns what SetStats recorded.
func (r *Response) Stats() (core, switches int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.core, r.switches
}

// LogExtras is what the app asked of the request's log line: its logvars
// ("key\x00value\x00" ..., shown by %(key)) and whether to log it even
// with logging off.
func (r *Response) LogExtras() (vars string, logThis bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logVars, r.logThis
}

// FileSpan is a file to send (wsgi.file_wrapper) between body chunks. The
// consumer closes File when it has been sent.
type FileSpan struct {
	File   *os.File
	Offset int64
	Count  int64 // -1: to the end of the file
	// Seq is the position among chunks: the file goes after chunk Seq-1.
	Seq int
}

// HighWater is how many queued bytes make the producer wait for the client.
const HighWater = 1 << 20

// NewResponse makes an empty response; notify is called (outside the
// response's lock, from the producer's goroutine) whenever the consumer
// may find something new in Take. It must not block.
func NewResponse(notify func()) *Response {
	r := &Response{}
	r.Init(notify)
	return r
}

// Init makes a zero Response what NewResponse gives, for one held inside
// a larger struct (the network plane allocates a request's parts at once).
func (r *Response) Init(notify func()) { r.notify = notify }

func (r *Response) signal() { r.notify() }

// SetHead records the status and headers; the first call wins.
func (r *Response) SetHead(h *Head) {
	r.mu.Lock()
	if r.head == nil {
		r.head = h
	}
	r.mu.Unlock()
	r.signal()
}

// Write queues a chunk (the slice is owned by the response from now on).
// It reports whether the producer should stop until onDrain is called.
func (r *Response) Write(chunk []byte, onDrain func()) (mustWait bool) {
	if len(chunk) == 0 {
		return false
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, chunk)
	r.queued += len(chunk)
	mustWait = r.queued >= HighWater && !r.gone.Load()
	if mustWait {
		r.onDrain = onDrain
	}
	r.mu.Unlock()
	r.signal()
	return mustWait
}

// SendFile queues a file to be sent after the chunks written so far.
func (r *Response) SendFile(f *os.File, offset, count int64) {
	r.mu.Lock()
	r.files = append(r.files, FileSpan{File: f, Offset: offset, Count: count, Seq: len(r.chunks)})
	r.mu.Unlock()
	r.signal()
}

// Finish ends the response. err non-nil means the app failed before a
// complete response could be produced (the consumer sends a 500 if no
// head was sent, or cuts the connection otherwise).
func (r *Response) Finish(err error) {
	r.End(Ending{Err: err, Switches: -1})
}

// Ending is everything that ends a response, handed over in one step: the
// consumer never sees the last bytes without the end (a client that has
// all its bytes may hang up before a separate Finish arrives), and one
// wake-up serves a whole short response.
type Ending struct {
	Head     *Head  // if not given before
	Last     []byte // the last output
	Err      error
	Switches int // for the log; -1: unknown
	// for the log: uwsgi.set_logvar's and log_this_request()'s
	LogVars string
	LogThis bool
	// Close: close the connection after this response (uwsgi.disconnect():
	// the app goes on without its client)
	Close bool
}

// End ends the response.
func (r *Response) End(e Ending) {
	r.mu.Lock()
	if r.head == nil && e.Head != nil {
		r.head = e.Head
	}
	if len(e.Last) > 0 {
		r.chunks = append(r.chunks, e.Last)
		r.queued += len(e.Last)
	}
	if e.Switches >= 0 {
		r.switches = e.Switches
	}
	r.logVars, r.logThis = e.LogVars, e.LogThis
	r.done = true
	r.close = e.Close
	r.err = e.Err
	r.mu.Unlock()
	r.signal()
}

// Gone reports whether the client went away; producers may stop early.
func (r *Response) Gone() bool { return r.gone.Load() }

// Batch is what the consumer takes in one go.
type Batch struct {
	Head   *Head // non-nil the first time the head is available
	Chunks [][]byte
	Files  []FileSpan // Seq relative to Chunks of this batch
	Done   bool
	Close  bool // with Done: close the connection after the response
	Err    error
}

// Take removes everything queued. headSent tells whether the consumer has
// already taken the head.
func (r *Response) Take(headSent bool) Batch {
	r.mu.Lock()
	var b Batch
	if !headSent && r.head != nil {
		b.Head = r.head
	}
	if headSent || r.head != nil {
		b.Chunks, r.chunks = r.chunks, nil
		b.Files, r.files = r.files, nil
	}
	b.Done, b.Err, b.Close = r.done, r.err, r.close
	if b.Done && !headSent && r.head == nil {
		// finished without a head: the consumer answers with an error
		b.Chunks, r.chunks = nil, nil
	}
	r.mu.Unlock()
	return b
}

// Consumed tells the producer that n bytes have left the queue.
func (r *Response) Consumed(n int) {
	r.mu.Lock()
	r.queued -= n
	var cb func()
	if r.onDrain != nil && r.queued < HighWater/2 {
		cb, r.onDrain = r.onDrain, nil
	}
	r.mu.Unlock()
	if cb != nil {
		cb()
	}
}

// Abandon marks the client as gone and releases a waiting producer.
func (r *Response) Abandon() {
	r.gone.Store(true)
	r.mu.Lock()
	cb := r.onDrain
	r.onDrain = nil
	for _, f := range r.files {
		f.File.Close()
	}
	r.chunks, r.files, r.queued = nil, nil, 0
	r.mu.Unlock()
	if cb != nil {
		cb()
	}
}

// Loop is the event loop the network plane runs on: in uwsgo, the hub's
// own epoll loop, so a request is read, run and answered on one thread
// with no hand-off. Watch, Unwatch and Submit are called on the loop's
// thread only; Wake from any goroutine.
type Loop interface {
	// Attach makes the loop call p on every turn and for p's fds.
	Attach(p Plane)
	// Watch adds fd to the loop's epoll set with events (EPOLLET and
	// EPOLLEXCLUSIVE allowed); its readiness goes to Plane.Ready.
	Watch(fd int, events uint32) error
	// Unwatch removes fd.
	Unwatch(fd int)
	// Forget is called just before a watched fd is closed (which takes
	// it out of the epoll set): the loop drops what it knows of it, so
	// that no stale bookkeeping touches the fd number's next owner.
	Forget(fd int)
	// Submit hands a request to the Python side. It never drops:
	// requests beyond the free cores wait.
	Submit(req *Request)
	// Wake makes the loop call Plane.Turn soon.
	Wake()
	// HasFreeCore tells whether a new request would start at once. With
	// several workers, one without a free core stops accepting, so that
	// the next connection goes to a worker that can serve it.
	HasFreeCore() bool
}

// Plane is what the loop calls back, on its thread.
type Plane interface {
	// Ready reports epoll events for an fd the plane watches.
	Ready(fd int, events uint32)
	// Turn runs once per loop turn, after the Python side ran: it writes
	// what responses produced and runs work posted from other
	// goroutines. It returns how long the loop may sleep before the next
	// Turn is due (-1: until something happens).
	Turn() (sleepMs int)
}
