package pyhost

import (
	"embed"
	"io/fs"
	"sort"
)

// The Python parts of the uwsgi module, executed in its namespace when it
// is created, in name order (so 00_*.py comes first).
//
//go:embed pyapi
var pyapi embed.FS

// pyapiSources lays the files out as uw_settings.pyapi expects them.
func pyapiSources() []byte {
	names, _ := fs.Glob(pyapi, "pyapi/*.py")
	sort.Strings(names)
	var b []byte
	for _, n := range names {
		src, err := pyapi.ReadFile(n)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		b = append(b, n[len("pyapi/"):]...)
		b = append(b, 0)
		b = append(b, src...)
		b = append(b, 0)
	}
	return b
}
