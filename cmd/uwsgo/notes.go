package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/uwsgo/uwsgo/config"
)

// printAccepted lists, in the banner, the options given that uwsgo accepts
// without carrying out, one line per reason.
func printAccepted(w io.Writer, o *config.Options) {
	var reasons []string
	names := map[string][]string{}
	for _, n := range o.Accepted {
		if _, ok := names[n.Reason]; !ok {
			reasons = append(reasons, n.Reason)
		}
		names[n.Reason] = append(names[n.Reason], n.Option)
	}
	for _, r := range reasons {
		fmt.Fprintf(w, "accepted, no effect: %s: %s\n", strings.Join(names[r], ", "), r)
	}
}
