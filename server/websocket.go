package server

import (
	"bytes"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Websocket defaults, uWSGI's.
const (
	DefaultWSMaxSize       = 1024 << 10 // --websockets-max-size 1024 (KiB)
	DefaultWSPingFreq      = 30 * time.Second
	DefaultWSPongTolerance = 3 * time.Second
)

// wsConn is a connection switched to websocket mode by the app's 101
// (uwsgi.websocket_handshake). The plane reads and parses its frames
// (gobwas/ws reads headers, unmasks and checks them against RFC 6455),
// answers pings, reassembles fragmented messages, checks text for UTF-8
// and the size cap, and hands each whole message to the request's
// exchange.WSSink. The app's frames come as its output, whole.
type wsConn struct {
	msg         []byte    // a fragmented message so far
	msgOp       ws.OpCode // its opcode; 0: none in progress
	need        int       // bytes the frame being read takes, header included
	hbuf        [ws.MaxHeaderSize - 2]byte
	rd          bytes.Reader
	closeSent   bool
	ending      bool // our close frame is queued: shut down once it is out
	told        bool // the request was told the connection closed
	readLater   bool // bytes came before the switch: read them after it
	lastPing    time.Time
	waitingPong bool
}

// isUpgradeHead: the app answered 101 (websocket_handshake).
func isUpgradeHead(status string) bool { return strings.HasPrefix(status, "101 ") }

// upgrade queues the 101 as it is (no framing of ours: what follows is
// the app's frames) and switches the connection to websocket mode.
func (c *conn) upgrade(status string, headers []string) {
	c.rl.status = 101
	c.rl.headers = len(headers) / 2
	proto := "HTTP/1.1"
	if c.kind == UWSGI {
		proto = c.proto
	}
	kept := make([]string, 0, len(headers))
	for i := 0; i+1 < len(headers); i += 2 {
		if asciiEqualFold(headers[i], "Content-Length") || asciiEqualFold(headers[i], "Transfer-Encoding") {
			continue
		}
		kept = append(kept, headers[i], headers[i+1])
	}
	head := appendRawHead(nil, proto, status, kept)
	c.rl.headerBytes = len(head)
	c.out = append(c.out, outItem{b: head})
	c.clLeft, c.chunked, c.noBody = -1, false, false
	c.keepAlive, c.closeAfter = false, true
	c.ws = &wsConn{lastPing: time.Now(), readLater: c.mayRead || c.r < c.w}
	if !c.nodelay {
		// messages are small and each must go at once
		unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c.nodelay = true
	}
}

// wsAfterPump reads what came before the switch, once it is done.
func (c *conn) wsAfterPump() {
	if c.ws != nil && c.ws.readLater && c.state == stApp {
		c.ws.readLater = false
		c.wsProcess()
		c.wsReadable()
	}
}

// wsAppDone: the app returned (failed: it raised). As RFC 6455 asks, the
// server starts the closing handshake (1000, or 1011 for a failure)
// unless a close was already sent.
func (c *conn) wsAppDone(failed bool) {
	if failed {
		c.rl.failed = true
		c.wsShut(ws.StatusInternalServerError, "")
		return
	}
	c.wsShut(ws.StatusNormalClosure, "")
}

// wsReadable reads frames; edge triggered: a short read means drained.
func (c *conn) wsReadable() {
	for c.state == stApp && c.ws != nil && !c.ws.ending {
		if c.buf == nil {
			c.buf = c.s.getBuf()
		}
		if c.w == len(c.buf) {
			c.wsRoom()
		}
		n, err := sysRead(c.fd, c.buf[c.w:])
		switch {
		case n > 0:
			full := c.w+n == len(c.buf)
			c.w += n
			c.mayRead = false
			c.wsProcess()
			c.flush()
			if !full && !c.hup {
				return
			}
		case err == nil, err != unix.EAGAIN && err != unix.EINTR:
			// EOF or an error: the client went away
			c.gone()
			return
		case err == unix.EAGAIN:
			c.mayRead = false
			c.releaseBuf()
			return
		}
	}
}

// wsRoom makes room for the frame being read (its size was checked
// against the cap before it is awaited).
func (c *conn) wsRoom() {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
		return
	}
	size := max(2*len(c.buf), c.ws.need)
	nb := make([]byte, size)
	c.w = copy(nb, c.buf[:c.w])
	c.s.putBuf(c.buf)
	c.buf = nb
}

// wsProcess parses the whole frames buffered.
func (c *conn) wsProcess() {
	w := c.ws
	for c.state == stApp && !w.ending && c.r < c.w {
		data := c.buf[c.r:c.w]
		w.rd.Reset(data)
		h, err := ws.ReadHeaderBuffer(&w.rd, w.hbuf[:])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			w.need = ws.MaxHeaderSize
			return
		}
		if err != nil {
			c.wsFail(ws.StatusProtocolError, err.Error())
			return
		}
		state := ws.StateServerSide
		if w.msgOp != 0 {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			c.wsFail(ws.StatusProtocolError, err.Error())
			return
		}
		if limit := c.s.wsMaxSize; h.Length > limit || int64(len(w.msg))+h.Length > limit {
			c.wsFail(ws.StatusMessageTooBig, "message over --websockets-max-size")
			return
		}
		hl := len(data) - w.rd.Len()
		if int64(len(data)-hl) < h.Length {
			w.need = hl + int(h.Length)
			return
		}
		payload := data[hl : hl+int(h.Length)]
		ws.Cipher(payload, h.Mask, 0)
		c.r += hl + int(h.Length)
		c.wsFrame(h, payload)
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
}

// wsFrame acts on one frame (payload unmasked, in the read buffer).
func (c *conn) wsFrame(h ws.Header, payload []byte) {
	w := c.ws
	switch h.OpCode {
	case ws.OpText, ws.OpBinary:
		if h.Fin {
			c.wsDeliver(h.OpCode, append([]byte(nil), payload...))
			return
		}
		w.msgOp = h.OpCode
		w.msg = append([]byte(nil), payload...)
	case ws.OpContinuation:
		w.msg = append(w.msg, payload...)
		if h.Fin {
			op, msg := w.msgOp, w.msg
			w.msgOp, w.msg = 0, nil
			c.wsDeliver(op, msg)
		}
	case ws.OpPing:
		c.wsControl(ws.OpPong, payload)
	case ws.OpPong:
		w.waitingPong = false
	case ws.OpClose:
		if len(payload) == 0 {
			c.wsShut(0, "")
			return
		}
		code, reason := ws.ParseCloseFrameData(payload)
		switch err := ws.CheckCloseFrameData(code, reason); {
		case len(payload) == 1:
			c.wsFail(ws.StatusProtocolError, "close frame with a 1-byte body")
		case err == ws.ErrProtocolInvalidUTF8:
			c.wsFail(ws.StatusInvalidFramePayloadData, err.Error())
		case err != nil:
			c.wsFail(ws.StatusProtocolError, err.Error())
		default:
			c.wsShut(code, "") // echo the client's code
		}
	}
}

// wsDeliver hands a whole message to the app.
func (c *conn) wsDeliver(op ws.OpCode, msg []byte) {
	if op == ws.OpText && !utf8.Valid(msg) {
		c.wsFail(ws.StatusInvalidFramePayloadData, "invalid UTF-8 in a text message")
		return
	}
	if c.ref == nil || c.finished {
		return // the app is done: nobody reads any more
	}
	if sink := c.ref.resp.WSSink(); sink != nil {
		sink.WSMessage(msg)
	}
}

// wsControl queues a control frame of ours (after whole frames only: the
// app's output arrives as whole frames).
func (c *conn) wsControl(op ws.OpCode, payload []byte) {
	c.out = append(c.out, outItem{b: ws.MustCompileFrame(ws.NewFrame(op, true, payload))})
}

// wsFail: the client broke the protocol or a limit. Close with code.
func (c *conn) wsFail(code ws.StatusCode, why string) {
	c.s.logger.Printf("[uwsgi-websocket] \"%s %s\" (%s) %s: closing with %d", c.method, c.rl.uri, c.remoteIP, why, code)
	c.wsShut(code, why)
}

// wsShut starts (or answers) the closing handshake: our close frame goes
// out, the app is told, and the connection shuts once the frame is out
// (flush calls wsEnd). code 0: a close frame without a body.
func (c *conn) wsShut(code ws.StatusCode, reason string) {
	w := c.ws
	if !w.closeSent {
		var body []byte
		if code != 0 {
			if len(reason) > 123 {
				reason = reason[:123]
			}
			body = ws.NewCloseFrameBody(code, reason)
		}
		c.wsControl(ws.OpClose, body)
		w.closeSent = true
	}
	w.ending = true
	c.wsTell()
}

// wsTell tells the request (once) that no more messages come.
func (c *conn) wsTell() {
	if c.ws == nil || c.ws.told {
		return
	}
	c.ws.told = true
	if c.ref != nil && !c.finished {
		if sink := c.ref.resp.WSSink(); sink != nil {
			sink.WSClosed()
		}
	}
}

// wsEnd: our close frame is out. The request, if it still runs, is let
// go (its sends fail from now on); the connection shuts our side and
// reads what the client still sends (its close) until it closes.
func (c *conn) wsEnd() {
	if x := c.ref; x != nil && !c.finished {
		x.resp.Abandon()
		x.c = nil
		c.ref = nil
		c.s.markDirty(x)
	}
	if !c.quiet {
		c.s.logRequest(c)
		c.quiet = true
	}
	c.lingerClose()
}

// wsTick sends the pings of --websockets-ping-freq and drops a client
// that has not answered the last one within --websockets-pong-tolerance
// (uWSGI's rules); called by the sweep, once a second.
func (c *conn) wsTick(now time.Time) {
	w := c.ws
	if w.ending || c.s.wsPingFreq <= 0 {
		return
	}
	if w.waitingPong {
		if now.Sub(w.lastPing) > c.s.wsPongTolerance {
			c.s.logger.Printf("[uwsgi-websocket] \"%s %s\" (%s) no PONG received in %d seconds !!!", c.method, c.rl.uri, c.remoteIP, int(c.s.wsPongTolerance/time.Second))
			c.gone()
		}
		return
	}
	if now.Sub(w.lastPing) >= c.s.wsPingFreq {
		c.wsControl(ws.OpPing, nil)
		w.lastPing, w.waitingPong = now, true
		c.flush()
	}
}
