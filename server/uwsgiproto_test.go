package server

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

func TestParseUwsgiPacket(t *testing.T) {
	vars := []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/", "EMPTY", "", "", "empty key"}
	got, size, _, err := parseUwsgiPacket(uwsgiPacket(0, vars...), 4096)
	if err != nil || !slices.Equal(got, vars) {
		t.Fatalf("got %q, %v", got, err)
	}
	if want := len(uwsgiPacket(0, vars...)) - 4; size != want {
		t.Errorf("size %d, want %d", size, want)
	}
	// An empty block is a request with no vars, not an error.
	if got, _, n, err := parseUwsgiPacket([]byte{0, 0, 0, 0}, 4096); err != nil || len(got) != 0 || n != 4 {
		t.Errorf("empty block: %q, %v", got, err)
	}
	// A packet cut short asks for more.
	if _, _, _, err := parseUwsgiPacket(uwsgiPacket(0, vars...)[:9], 4096); err != errNeedMore {
		t.Errorf("truncated packet: %v", err)
	}
	// A datasize of exactly the limit is fine; one more is not.
	big := uwsgiPacket(0, "K", string(make([]byte, 4096-5)))
	if _, _, _, err := parseUwsgiPacket(big, 4096); err != nil {
		t.Errorf("block at the limit: %v", err)
	}
	if _, _, _, err := parseUwsgiPacket(big, 4095); err == nil {
		t.Error("block over the limit accepted")
	}
}

func FuzzParseUwsgiPacket(f *testing.F) {
	f.Add(uwsgiPacket(0, "REQUEST_METHOD", "GET", "PATH_INFO", "/x"))
	f.Add(uwsgiPacket(0))
	f.Add(uwsgiPacket(5, "A", "B"))
	f.Add([]byte{0, 8, 0, 0, 4, 0, 'P', 'A', 'T', 'H', 50, 0})
	f.Add([]byte{0, 3, 0, 0, 9, 0, 'X'})
	f.Add([]byte{0, 0xff, 0xff, 0})
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, size, n, err := parseUwsgiPacket(data, 4096)
		if err == errNeedMore {
			if len(data) >= 4 && len(data) >= 4+int(binary.LittleEndian.Uint16(data[1:3])) {
				t.Fatalf("asked for more with the whole packet there: %q", data)
			}
			return
		}
		if err != nil {
			return
		}
		if n != 4+size {
			t.Fatalf("took %d bytes of a %d-byte block", n, size)
		}
		if len(vars)%2 != 0 {
			t.Fatalf("odd vars %q", vars)
		}
		// What parses re-encodes to the same bytes.
		if got := uwsgiPacket(data[0], vars...); !bytes.Equal(got[4:], data[4:4+size]) ||
			binary.LittleEndian.Uint16(data[1:3]) != uint16(size) {
			t.Fatalf("round trip: %q -> %q", data[:4+size], got)
		}
	})
}
