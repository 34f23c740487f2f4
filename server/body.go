package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
)

// body is a request body read in full before the request is submitted,
// so the hub never waits on a socket.
type body struct {
	mem  []byte
	file *os.File // unlinked spool file at offset 0, when the body is large
	size int64
}

// readBody reads size bytes from src (size < 0: until EOF, as for a
// chunked body). Up to limit bytes stay in memory; a larger body goes to
// an unlinked temporary file. A body shorter than size is an error.
func readBody(src io.Reader, size int64, limit int) (body, error) {
	if src == nil || size == 0 || src == http.NoBody {
		return body{}, nil
	}
	if size > 0 && size <= int64(limit) {
		buf := make([]byte, size)
		if _, err := io.ReadFull(src, buf); err != nil {
			return body{}, shortBody(err)
		}
		return body{mem: buf, size: size}, nil
	}
	var head []byte
	if size < 0 {
		// Unknown length: read up to limit+1 to learn whether it fits.
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(io.LimitReader(src, int64(limit)+1)); err != nil {
			return body{}, shortBody(err)
		}
		if buf.Len() <= limit {
			return body{mem: buf.Bytes(), size: int64(buf.Len())}, nil
		}
		head = buf.Bytes()
	}
	return spool(src, head, size)
}

// spool writes head and then the rest of src (size bytes in all, or to
// EOF when size < 0) to a temporary file that is unlinked at once, so it
// vanishes with the last descriptor.
func spool(src io.Reader, head []byte, size int64) (body, error) {
	f, err := os.CreateTemp("", "uwsgo-body-*")
	if err != nil {
		return body{}, &spoolError{err}
	}
	os.Remove(f.Name())
	fail := func(err error) (body, error) {
		f.Close()
		return body{}, err
	}
	n, err := f.Write(head)
	if err != nil {
		return fail(&spoolError{err})
	}
	// A writer without ReadFrom keeps read errors (the client's) apart
	// from write errors (ours).
	dst := &spoolWriter{f: f}
	var m int64
	if size < 0 {
		m, err = io.Copy(dst, src)
	} else {
		m, err = io.CopyN(dst, src, size-int64(n))
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if dst.err != nil {
		return fail(&spoolError{dst.err})
	}
	if err != nil {
		return fail(shortBody(err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(&spoolError{err})
	}
	return body{file: f, size: int64(n) + m}, nil
}

type spoolWriter struct {
	f   *os.File
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// spoolError is a failure on our side (temp dir full or missing), not the
// client's.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "spooling request body to a file: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// errShortBody marks a body that ended before its announced length.
var errShortBody = errors.New("request body shorter than its Content-Length")

func shortBody(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errShortBody
	}
	return err
}
