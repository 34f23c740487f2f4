package server

import (
	"bytes"
	"errors"
	"io"
	"os"

	"golang.org/x/net/http/httpguts"
)

// bodyReader collects a request body as its bytes arrive, whole before
// the request is submitted, so the hub never waits on a socket. Up to
// limit bytes stay in memory; a larger body goes to an unlinked
// temporary file.
type bodyReader struct {
	limit     int   // bytes kept in memory
	limitPost int64 // most body bytes accepted (--limit-post; 0: no limit)
	trailer   headLimits
	left      int64 // Content-Length bytes still to come
	chunked   bool
	cs        chunkState
	chunk     int64 // bytes left in the current chunk
	tbytes    int   // trailer section bytes so far
	tfields   int   // trailer fields so far
	mem       []byte
	file      *os.File
	size      int64
	done      bool
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // a size line
	chunkData                      // chunk bytes
	chunkEnd                       // the CRLF after them
	chunkTrailer                   // trailer lines until a blank one
)

const maxChunkLine = 4096

// errBodyTooLarge: more than --limit-post.
var errBodyTooLarge = &httpError{413, "request body larger than --limit-post"}

// newBodyReader reads size bytes (size < 0: a chunked body).
func newBodyReader(size int64, limit int, limitPost int64, trailer headLimits) *bodyReader {
	b := &bodyReader{limit: limit, limitPost: limitPost, trailer: trailer, left: size, chunked: size < 0}
	if size > 0 && size <= int64(limit) {
		b.mem = make([]byte, 0, size)
	}
	return b
}

// feed takes body bytes from p and returns how many it used; the rest
// belongs to the next request (or is an incomplete chunk line). Chunked
// framing is read as RFC 9112 7.1 writes it, CRLF only, as llhttp's
// strict mode reads it: what one of them refuses, a proxy in front may
// read as the start of another request.
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
					return used, badRequest("chunk line too long")
				}
				return used, nil
			}
			if i > maxChunkLine {
				return used, badRequest("chunk line too long")
			}
			if i == 0 || q[i-1] != '\r' {
				return used, badRequest("bare LF in chunked framing")
			}
			line := q[:i-1]
			used += i + 1
			if b.cs == chunkTrailer {
				if err := b.trailerLine(line, i+1); err != nil {
					return used, err
				}
				continue
			}
			n, err := parseChunkLine(line)
			if err != nil {
				return used, err
			}
			if b.limitPost > 0 && n > b.limitPost-b.size {
				return used, errBodyTooLarge
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
			case q[0] == '\r' && len(q) == 1:
				return used, nil
			case q[0] == '\r' && q[1] == '\n':
				used += 2
			default:
				return used, badRequest("chunk data not followed by CRLF")
			}
			b.cs = chunkSize
		}
	}
	return used, nil
}

// trailerLine checks one line of the trailer section (n bytes with its
// CRLF); an empty one ends the body. Trailer fields are checked like
// header fields, then dropped (the app sees none, as under uWSGI).
func (b *bodyReader) trailerLine(line []byte, n int) error {
	if len(line) == 0 {
		b.done = true
		return nil
	}
	if b.tbytes += n; b.tbytes > b.trailer.bytes {
		return &httpError{431, "trailer section too large"}
	}
	if b.tfields++; b.tfields > b.trailer.fields {
		return &httpError{431, "too many trailer fields"}
	}
	name, _, err := splitField(string(line))
	if err != nil {
		return err
	}
	if forbiddenTrailer(name) {
		return badRequest("trailer field " + name + " is not allowed")
	}
	return nil
}

// forbiddenTrailer: fields that frame, route or describe the message
// (RFC 9110 6.5.1). A recipient that merged them into the header
// section would read another message; refused rather than dropped.
func forbiddenTrailer(name string) bool {
	for _, f := range [...]string{"Content-Length", "Transfer-Encoding", "Host", "Trailer",
		"Connection", "Content-Type", "Content-Encoding", "Content-Range", "Expect"} {
		if asciiEqualFold(name, f) {
			return true
		}
	}
	return false
}

// parseChunkLine reads chunk-size [ chunk-ext ] (RFC 9112 7.1.1):
// 1*HEXDIG, then any number of ;name or ;name=value, the name a token,
// the value a token or a quoted string. No whitespace anywhere, as in
// llhttp's strict mode.
func parseChunkLine(line []byte) (int64, error) {
	i := 0
	for i < len(line) && isHex(line[i]) {
		i++
	}
	n, ok := parseChunkSize(line[:i])
	if !ok {
		return 0, badRequest("malformed chunk size")
	}
	for i < len(line) {
		if line[i] != ';' {
			return 0, badRequest("malformed chunk size")
		}
		i++
		j := i
		for j < len(line) && isTokenByte(line[j]) {
			j++
		}
		if j == i {
			return 0, badRequest("empty chunk extension name")
		}
		i = j
		if i == len(line) || line[i] != '=' {
			continue
		}
		i++
		if i < len(line) && line[i] == '"' {
			end, ok := quotedStringEnd(line, i)
			if !ok {
				return 0, badRequest("malformed chunk extension value")
			}
			i = end
			continue
		}
		j = i
		for j < len(line) && isTokenByte(line[j]) {
			j++
		}
		if j == i {
			return 0, badRequest("malformed chunk extension value")
		}
		i = j
	}
	return n, nil
}

// quotedStringEnd returns the offset after the quoted-string that opens
// at line[i] (RFC 9110 5.6.4).
func quotedStringEnd(line []byte, i int) (int, bool) {
	for i++; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i++; i == len(line) || !isQuotedPairByte(line[i]) {
				return 0, false
			}
		case c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x7e || c >= 0x80:
		default:
			return 0, false
		}
	}
	return 0, false
}

func isQuotedPairByte(c byte) bool { return c == '\t' || ' ' <= c && c != 0x7f }

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isTokenByte(c byte) bool { return httpguts.IsTokenRune(rune(c)) }

// store keeps p in memory or, past the limit, in the spool file.
func (b *bodyReader) store(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	b.size += int64(len(p))
	if b.limitPost > 0 && b.size > b.limitPost {
		return errBodyTooLarge
	}
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
