package pyhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryCFileReachesTheBinary: change any C file of the module and the
// rebuilt binary changes. cgo rebuilds a package when a file in its own
// directory changes, and only then: C included from another directory
// shipped stale code. The test appends a distinct string to every .c and
// .h file at once (through go build -overlay, which replaces the files'
// contents for the build exactly as an edit would, and is ignored for C
// reached from outside the package's directory), rebuilds the server and
// looks for every string in the binary.
func TestEveryCFileReachesTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole server")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	markers := map[string]string{}
	n := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// bench/ holds measuring tools that the benchmarks build with cc
			// (nullbackend.c), never part of the binary
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "bin" || path == filepath.Join(root, "bench")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".c") && !strings.HasSuffix(path, ".h") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		marker := fmt.Sprintf("uwsgo-stale-c-check-%d-%s", n, filepath.Base(path))
		// its own guard: a header may be included twice in one file
		extra := fmt.Sprintf("\n#ifndef UW_STALE_CHECK_%d\n#define UW_STALE_CHECK_%d\n"+
			"__attribute__((used)) static const char uw_stale_check_%d[] = %q;\n#endif\n", n, n, n, marker)
		edited := filepath.Join(tmp, fmt.Sprintf("%d-%s", n, filepath.Base(path)))
		if err := os.WriteFile(edited, append(src, extra...), 0o644); err != nil {
			return err
		}
		replace[path] = edited
		markers[path] = marker
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no C files found under " + root)
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	overlayPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "uwsgo")
	cmd := exec.Command("go", "build", "-overlay", overlayPath, "-o", bin, "./cmd/uwsgo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build with the edited C files: %v\n%s", err, out)
	}
	built, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for path, marker := range markers {
		if !bytes.Contains(built, []byte(marker)) {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("an edit to %s does not reach the rebuilt binary: C must live in the directory of the Go package that compiles it", rel)
		}
	}
}
