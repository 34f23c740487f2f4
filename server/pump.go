package server

import (
	"io"

	"github.com/uwsgo/uwsgo/exchange"
)

// sink is where a response goes: net/http or a raw uwsgi connection.
type sink interface {
	head(h *exchange.Head) error // fails only for an unusable status
	write(p []byte) error
	sendFile(fs exchange.FileSpan) error
	flush() error
}

// outcome is how a pumped response ended.
type outcome int

const (
	pumpOK              outcome = iota
	pumpFailedNoHead            // the app failed (or gave a bad status) before the head: answer 500
	pumpFailedAfterHead         // the app failed after the head: cut the connection
	pumpGone                    // the client went away or a write failed
)

// pump moves one response from the hub to the client until it is done or
// the client is gone (gone closes or a write fails). Every request it
// is given ends up counted as finished, now or when the hub lets go.
func (s *Server) pump(gone <-chan struct{}, resp *exchange.Response, sk sink) outcome {
	headSent := false
	for {
		b := resp.Take(headSent)
		if b.Head != nil && b.Done && b.Err != nil {
			// The app failed before any of its response reached the
			// client: a 500 says so better than a cut connection.
			closeFiles(b.Files)
			s.finished()
			return pumpFailedNoHead
		}
		if b.Head != nil {
			if err := sk.head(b.Head); err != nil {
				s.logger.Printf("bad response status %q: %v", b.Head.Status, err)
				closeFiles(b.Files)
				s.abandon(resp, b.Done)
				return pumpFailedNoHead
			}
			headSent = true
		}
		if !headSent && b.Done {
			s.finished()
			return pumpFailedNoHead
		}
		if headSent {
			wrote, err := writeBatch(resp, sk, b)
			if err != nil {
				s.abandon(resp, b.Done)
				return pumpGone
			}
			if b.Done {
				s.finished()
				if b.Err != nil {
					return pumpFailedAfterHead
				}
				return pumpOK // the caller flushes: net/http may then set Content-Length
			}
			// Flush per batch so a streaming app's output is seen at once.
			if wrote {
				if err := sk.flush(); err != nil {
					s.abandon(resp, false)
					return pumpGone
				}
			}
		}
		select {
		case <-resp.Wait():
		case <-gone:
			s.abandon(resp, false)
			return pumpGone
		}
	}
}

// writeBatch writes chunks and files in their order and credits the
// producer for each chunk. Files are closed whatever happens.
func writeBatch(resp *exchange.Response, sk sink, b exchange.Batch) (wrote bool, err error) {
	files := b.Files
	defer func() { closeFiles(files) }()
	sendUpTo := func(seq int) error {
		for len(files) > 0 && files[0].Seq <= seq {
			fs := files[0]
			files = files[1:]
			err := sk.sendFile(fs)
			fs.File.Close()
			wrote = true
			if err != nil {
				return err
			}
		}
		return nil
	}
	for i, c := range b.Chunks {
		if err := sendUpTo(i); err != nil {
			return wrote, err
		}
		if err := sk.write(c); err != nil {
			return wrote, err
		}
		resp.Consumed(len(c))
		wrote = true
	}
	return wrote, sendUpTo(int(^uint(0) >> 1))
}

// abandon tells the producer the client is gone, then keeps draining in
// the background (closing late files) until the hub finishes the request,
// which is when it stops counting as in flight.
func (s *Server) abandon(resp *exchange.Response, done bool) {
	resp.Abandon()
	if done {
		s.finished()
		return
	}
	go func() {
		for {
			b := resp.Take(true)
			closeFiles(b.Files)
			if b.Done {
				s.finished()
				return
			}
			<-resp.Wait()
		}
	}()
}

func closeFiles(fs []exchange.FileSpan) {
	for _, f := range fs {
		f.File.Close()
	}
}

// copyFileSpan sends a file section; an *os.File or an io.LimitedReader
// around one lets the destination's ReadFrom use sendfile.
func copyFileSpan(w io.Writer, fs exchange.FileSpan) (int64, error) {
	f := fs.File
	if _, err := f.Seek(fs.Offset, io.SeekStart); err != nil && fs.Offset != 0 {
		return 0, err // a pipe cannot seek; that only matters past offset 0
	}
	var src io.Reader = f
	if fs.Count >= 0 {
		src = io.LimitReader(f, fs.Count)
	}
	return readFrom(w, src)
}

// readFrom calls w's ReadFrom directly: io.Copy would first try
// os.File.WriteTo, which hides the file from net/http's sendfile check.
func readFrom(w io.Writer, src io.Reader) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w, src)
}
