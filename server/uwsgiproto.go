package server

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The uwsgi packet: modifier1 (u8), datasize (u16 LE), modifier2 (u8),
// then datasize bytes of {keysize u16 LE, key, valsize u16 LE, val}.
const uwsgiHeaderSize = 4

var errUwsgiVarPast = errors.New("uwsgi var runs past the end of the block")

// parseUwsgiPacket parses the packet at the start of buf: its vars in
// the order received, the block size (for the log line) and the bytes it
// took. errNeedMore: buf ends before the packet does.
func parseUwsgiPacket(buf []byte, maxSize int) (vars []string, size, n int, err error) {
	if len(buf) < uwsgiHeaderSize {
		return nil, 0, 0, errNeedMore
	}
	if buf[0] != 0 {
		return nil, 0, 0, fmt.Errorf("unsupported uwsgi modifier1 %d (only 0, WSGI, is served)", buf[0])
	}
	size = int(binary.LittleEndian.Uint16(buf[1:3]))
	if size > maxSize {
		// the head-size limit, as for HTTP (uWSGI's --buffer-size)
		return nil, 0, 0, &httpError{431, fmt.Sprintf("invalid request block size: %d (max %d)", size, maxSize)}
	}
	if len(buf) < uwsgiHeaderSize+size {
		return nil, 0, 0, errNeedMore
	}
	vars, err = parseUwsgiVars(buf[uwsgiHeaderSize : uwsgiHeaderSize+size])
	return vars, size, uwsgiHeaderSize + size, err
}

// parseUwsgiVars splits a vars block. The strings all share one copy of
// the block: one allocation instead of two per var.
func parseUwsgiVars(block []byte) ([]string, error) {
	s := string(block)
	n := 0 // count first so the slice is allocated once
	for i := 0; i < len(s); n++ {
		var ok bool
		if i, ok = skipUwsgiString(s, i); !ok {
			return nil, errUwsgiVarPast
		}
		if i, ok = skipUwsgiString(s, i); !ok {
			return nil, errUwsgiVarPast
		}
	}
	vars := make([]string, 0, 2*n)
	for i := 0; i < len(s); {
		for range 2 {
			l := int(s[i]) | int(s[i+1])<<8
			vars = append(vars, s[i+2:i+2+l])
			i += 2 + l
		}
	}
	return vars, nil
}

// skipUwsgiString returns the offset after the length-prefixed string at i.
func skipUwsgiString(s string, i int) (int, bool) {
	if len(s)-i < 2 {
		return 0, false
	}
	l := int(s[i]) | int(s[i+1])<<8
	i += 2
	if len(s)-i < l {
		return 0, false
	}
	return i + l, true
}
