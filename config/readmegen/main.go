// Command readmegen writes config's option table into README.md, between
// its markers (go generate ./config).
package main

import (
	"fmt"
	"os"

	"github.com/uwsgo/uwsgo/config"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: readmegen README.md")
		os.Exit(2)
	}
	path := os.Args[1]
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readmegen:", err)
		os.Exit(1)
	}
	out, err := config.ReplaceTable(string(data))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readmegen:", path+":", err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "readmegen:", err)
		os.Exit(1)
	}
}
