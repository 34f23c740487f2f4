package server

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// feedPieces feeds stream to b in pieces of the given size the way a
// connection does: bytes b did not take stay in front of the next ones.
// It stops once the body is done and returns the bytes b took.
func feedPieces(b *bodyReader, stream []byte, piece int) (int, error) {
	var pending []byte
	took := 0
	for i := 0; i < len(stream) && !b.done; i += piece {
		pending = append(pending, stream[i:min(i+piece, len(stream))]...)
		n, err := b.feed(pending)
		if n < 0 || n > len(pending) {
			panic("feed took more than it was given")
		}
		took += n
		pending = pending[n:]
		if err != nil {
			return took, err
		}
	}
	return took, nil
}

// bodyOf takes the body out of b: memory or spool file.
func bodyOf(t *testing.T, b *bodyReader) (body []byte, spooled bool) {
	t.Helper()
	mem, f := b.take()
	if f == nil {
		return mem, false
	}
	defer f.Close()
	if mem != nil {
		t.Errorf("body both in memory (%d bytes) and in a file", len(mem))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data, true
}

var chunkedStreams = []struct {
	name, stream, body string
}{
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
	{"empty", "0\r\n\r\n", ""},
	{"extensions", "5;a=b\r\nhello\r\n6;x;y=\"z;w\\\"\"\r\n world\r\n0;end\r\n\r\n", "hello world"},
	{"trailers", "3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: two\r\n\r\n", "abc"},
	{"upper and lower hex", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
	{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
	{"CR LF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
	{"the next request follows", "2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "ok"},
	{"many small chunks", strings.Repeat("1\r\nx\r\n", 300) + "0\r\n\r\n", strings.Repeat("x", 300)},
	{"big chunk", "1f4\r\n" + strings.Repeat("y", 500) + "\r\n0\r\n\r\n", strings.Repeat("y", 500)},
}

func TestBodyReaderChunkedPieces(t *testing.T) {
	for _, tc := range chunkedStreams {
		for _, limit := range []int{1 << 20, 16} { // in memory; spooled past 16 bytes
			whole := newBodyReader(-1, limit, 0, testLim)
			n, err := whole.feed([]byte(tc.stream))
			if err != nil || !whole.done {
				t.Fatalf("%s: fed whole: %v, done %v", tc.name, err, whole.done)
			}
			wantN := len(tc.stream)
			if i := strings.Index(tc.stream, "GET"); i >= 0 {
				wantN = i
			}
			if n != wantN {
				t.Errorf("%s: fed whole, took %d bytes, want %d", tc.name, n, wantN)
			}
			wholeBody, wholeSpooled := bodyOf(t, whole)
			if string(wholeBody) != tc.body || whole.size != int64(len(tc.body)) {
				t.Errorf("%s: fed whole: body %q (size %d), want %q", tc.name, wholeBody, whole.size, tc.body)
			}
			if wholeSpooled != (len(tc.body) > limit) {
				t.Errorf("%s: %d bytes, limit %d: spooled %v", tc.name, len(tc.body), limit, wholeSpooled)
			}
			for _, piece := range []int{1, 2, 3, 7} {
				b := newBodyReader(-1, limit, 0, testLim)
				took, err := feedPieces(b, []byte(tc.stream), piece)
				if err != nil || !b.done {
					t.Fatalf("%s: in %d-byte pieces: %v, done %v", tc.name, piece, err, b.done)
				}
				body, spooled := bodyOf(t, b)
				if took != n || !bytes.Equal(body, wholeBody) || spooled != wholeSpooled || b.size != whole.size {
					t.Errorf("%s: in %d-byte pieces: took %d, body %q, spooled %v; fed whole: took %d, body %q, spooled %v",
						tc.name, piece, took, body, spooled, n, wholeBody, wholeSpooled)
				}
			}
		}
	}
}

func TestBodyReaderChunkedMalformed(t *testing.T) {
	cases := []struct{ name, stream string }{
		{"not hex", "zz\r\n"},
		{"empty size", "\r\n"},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"negative", "-1\r\n"},
		// RFC 9112 7.1: chunk-size = 1*HEXDIG; net/http and nginx refuse a sign.
		{"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
		{"minus zero", "-0\r\n\r\n"},
		{"overflow", "10000000000000000\r\n"},
		{"no CRLF after data", "5\r\nhelloXY0\r\n\r\n"},
		{"CR then junk after data", "5\r\nhello\rX0\r\n\r\n"},
		{"size line too long", strings.Repeat("0", maxChunkLine+10)},
		{"trailer line too long", "0\r\nX-T: " + strings.Repeat("t", maxChunkLine+10)},
		// issue 11: what a strict parser refuses, read as llhttp reads it
		{"bare LF", "5\nhello\n0\n\n"},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n"},
		{"CR CR LF after size", "5\r\r\nhello\r\n0\r\n\r\n"},
		{"LF in a quoted extension", "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n"},
		{"space after size", "5 \r\nhello\r\n0\r\n\r\n"},
		{"empty extension", "2;\r\nhi\r\n0\r\n\r\n"},
		{"CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
		{"NUL in an extension", "5;a\x00\r\nhello\r\n0\r\n\r\n"},
		{"spaces around an extension", "5 ; a\r\nhello\r\n0\r\n\r\n"},
		{"unterminated quoted extension", "5;a=\"x\r\nhello\r\n0\r\n\r\n"},
		{"trailer with no colon", "0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"NUL in a trailer", "0\r\nX-T: a\x00\r\n\r\n"},
		{"obs-fold in a trailer", "0\r\nX-T: a\r\n b\r\n\r\n"},
		{"bare LF in a trailer", "0\r\nX-T: a\n\r\n"},
		{"Content-Length trailer", "0\r\nContent-Length: 5\r\n\r\n"},
		{"Transfer-Encoding trailer", "0\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"Host trailer", "0\r\nhost: y\r\n\r\n"},
	}
	for _, tc := range cases {
		for _, piece := range []int{len(tc.stream), 1} {
			b := newBodyReader(-1, 1<<20, 0, testLim)
			if _, err := feedPieces(b, []byte(tc.stream), piece); err == nil {
				t.Errorf("%s (%d-byte pieces): %q accepted (done %v, body %q)", tc.name, piece, tc.stream, b.done, b.mem)
			}
			b.discard()
		}
	}
}

func TestBodyReaderContentLength(t *testing.T) {
	const stream = "helloGET / HTTP/1.1\r\n\r\n"
	for _, limit := range []int{1 << 20, 3} {
		for _, piece := range []int{len(stream), 1, 2, 4} {
			b := newBodyReader(5, limit, 0, testLim)
			took, err := feedPieces(b, []byte(stream), piece)
			if err != nil || !b.done || took != 5 {
				t.Fatalf("limit %d, %d-byte pieces: took %d, done %v, %v", limit, piece, took, b.done, err)
			}
			body, spooled := bodyOf(t, b)
			if string(body) != "hello" || spooled != (limit < 5) {
				t.Errorf("limit %d, %d-byte pieces: body %q, spooled %v", limit, piece, body, spooled)
			}
		}
	}
	// Nothing is taken past the end, even offered again.
	b := newBodyReader(2, 100, 0, testLim)
	if n, err := b.feed([]byte("abc")); n != 2 || err != nil || !b.done {
		t.Fatalf("took %d, %v, done %v", n, err, b.done)
	}
	if n, err := b.feed([]byte("c")); n != 0 || err != nil {
		t.Errorf("after the end: took %d, %v", n, err)
	}
}

func TestBodyReaderSpoolAtLimit(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 10)
	for _, size := range []int{99, 100, 101} {
		b := newBodyReader(int64(len(payload[:min(size, 100)])), 100, 0, testLim)
		if size > 100 {
			b = newBodyReader(-1, 100, 0, testLim)
		}
		var stream []byte
		if size > 100 {
			stream = append([]byte("64\r\n"), payload...)
			stream = append(stream, "\r\n"...)
			stream = append(stream, "1\r\nX\r\n0\r\n\r\n"...)
		} else {
			stream = payload[:size]
		}
		if _, err := feedPieces(b, stream, 1); err != nil || !b.done {
			t.Fatalf("%d bytes: %v, done %v", size, err, b.done)
		}
		body, spooled := bodyOf(t, b)
		if len(body) != size || spooled != (size > 100) {
			t.Errorf("%d bytes with a limit of 100: got %d, spooled %v", size, len(body), spooled)
		}
	}
}

// FuzzBodyReaderChunked: a chunked stream gives the same result however
// it is cut into reads.
func FuzzBodyReaderChunked(f *testing.F) {
	for _, tc := range chunkedStreams {
		f.Add([]byte(tc.stream), uint8(1))
	}
	f.Add([]byte("5\r\nhel"), uint8(2))
	f.Add([]byte("zz\r\n"), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, piece uint8) {
		if len(stream) > maxChunkLine || piece == 0 {
			return // (a line over the limit is refused only once it is over it in one read)
		}
		whole := newBodyReader(-1, 64, 0, testLim)
		n, errWhole := whole.feed(stream)
		if n < 0 || n > len(stream) {
			t.Fatalf("took %d of %d bytes", n, len(stream))
		}
		b := newBodyReader(-1, 64, 0, testLim)
		took, err := feedPieces(b, stream, int(piece))
		if (err != nil) != (errWhole != nil) {
			t.Fatalf("%q: whole: %v; in %d-byte pieces: %v", stream, errWhole, piece, err)
		}
		if err != nil {
			whole.discard()
			b.discard()
			return
		}
		if b.done != whole.done || (whole.done && took != n) || b.size != whole.size {
			t.Fatalf("%q: whole: took %d, done %v, size %d; in %d-byte pieces: took %d, done %v, size %d",
				stream, n, whole.done, whole.size, piece, took, b.done, b.size)
		}
		wb, _ := bodyOf(t, whole)
		pb, _ := bodyOf(t, b)
		if !bytes.Equal(wb, pb) {
			t.Fatalf("%q: whole body %q, in pieces %q", stream, wb, pb)
		}
	})
}

var testLim = headLimits{bytes: 8192, fields: 100}
