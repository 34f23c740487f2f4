package server

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// bodyReader collects a request body as its bytes arrive, whole before
// the request is submitted, so the hub never waits on a socket. Up to
// limit bytes stay in memory; a larger body goes to an unlinked
// temporary file.
type bodyReader struct {
	limit   int
	left    int64 // Content-Length bytes still to come
	chunked bool
	cs      chunkState
	chunk   int64 // bytes left in the current chunk
	mem     []byte
	file    *os.File
	size    int64
	done    bool
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // a size line
	chunkData                      // chunk bytes
	chunkEnd                       // the CRLF after them
	chunkTrailer                   // trailer lines until a blank one
)

const maxChunkLine = 4096

// newBodyReader reads size bytes (size < 0: a chunked body).
func newBodyReader(size int64, limit int) *bodyReader {
	b := &bodyReader{limit: limit, left: size, chunked: size < 0}
	if size > 0 && size <= int64(limit) {
		b.mem = make([]byte, 0, size)
	}
	return b
}

// feed takes body bytes from p and returns how many it used; the rest
// belongs to the next request (or is an incomplete chunk line).
func (b *bodyReader) feed(p []byte) (int, error) {
	if !b.chunked {
		n := int(min(int64(len(p)), b.left))
		if err := b.store(p[:n]); err != nil {
			return n, err
		}
		b.left -= int64(n)
		b.done = b.left == 0
		return n, nil
	}
	used := 0
	for used < len(p) && !b.done {
		q := p[used:]
		switch b.cs {
		case chunkSize, chunkTrailer:
			i := bytes.IndexByte(q, '\n')
			if i < 0 {
				if len(q) > maxChunkLine {
					return used, errors.New("chunk line too long")
				}
				return used, nil
			}
			if i > maxChunkLine {
				return used, errors.New("chunk line too long")
			}
			line := bytes.TrimRight(q[:i], "\r")
			used += i + 1
			if b.cs == chunkTrailer {
				b.done = len(line) == 0
				continue
			}
			if semi := bytes.IndexByte(line, ';'); semi >= 0 {
				line = line[:semi] // chunk extensions: ignored
			}
			n, ok := parseChunkSize(bytes.TrimRight(line, " \t"))
			if !ok {
				return used, errors.New("malformed chunk size")
			}
			if n == 0 {
				b.cs = chunkTrailer
			} else {
				b.cs, b.chunk = chunkData, n
			}
		case chunkData:
			n := int(min(int64(len(q)), b.chunk))
			if err := b.store(q[:n]); err != nil {
				return used, err
			}
			used += n
			if b.chunk -= int64(n); b.chunk == 0 {
				b.cs = chunkEnd
			}
		case chunkEnd:
			switch {
			case q[0] == '\n':
				used++
			case q[0] == '\r' && len(q) == 1:
				return used, nil
			case q[0] == '\r' && q[1] == '\n':
				used += 2
			default:
				return used, errors.New("malformed chunk end")
			}
			b.cs = chunkSize
		}
	}
	return used, nil
}

// store keeps p in memory or, past the limit, in the spool file.
func (b *bodyReader) store(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	b.size += int64(len(p))
	if b.file == nil && b.size <= int64(b.limit) {
		b.mem = append(b.mem, p...)
		return nil
	}
	if b.file == nil {
		f, err := os.CreateTemp("", "uwsgo-body-*")
		if err != nil {
			return &spoolError{err}
		}
		os.Remove(f.Name()) // gone with the last descriptor
		b.file = f
		if _, err := f.Write(b.mem); err != nil {
			return &spoolError{err}
		}
		b.mem = nil
	}
	if _, err := b.file.Write(p); err != nil {
		return &spoolError{err}
	}
	return nil
}

// take hands the body over: in memory, or as a file at offset 0.
func (b *bodyReader) take() ([]byte, *os.File) {
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			b.file.Close()
			return nil, nil
		}
	}
	return b.mem, b.file
}

// discard drops a body that will not be used.
func (b *bodyReader) discard() {
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	b.mem = nil
}

// spoolError is a failure on our side (temp dir full or missing), not the
// client's.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "spooling request body to a file: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// errShortBody marks a body that ended before its announced length.
var errShortBody = errors.New("request body shorter than its Content-Length")
