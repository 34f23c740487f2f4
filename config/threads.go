package config

import (
	"errors"
	"fmt"
)

// validateThreads refuses the --threads values and combinations that make
// no sense. uWSGI 2.0 accepts --threads with --async, --ugreen or
// --greenlet, then serves on one thread with a core table sized for the
// threads, and its requests fail or hang: uwsgo says so instead.
func (o *Options) validateThreads() error {
	if o.Threads == 0 {
		for _, e := range o.Raw {
			if opt := Lookup(e.Key); opt != nil && opt.Name == "threads" {
				return fmt.Errorf("--threads 0: must be at least 1 (%s)", e.From)
			}
		}
	}
	if o.Threads <= 1 {
		return nil
	}
	switch {
	case o.Gevent > 0:
		return errors.New("--threads cannot be used with --gevent (uWSGI multithread mode does not work with gevent)")
	case o.Async > 1:
		return fmt.Errorf("--threads %d cannot be used with --async %d: a worker runs either request threads or async cores", o.Threads, o.Async)
	case o.UGreen:
		return errors.New("--threads cannot be used with --ugreen: uGreen switches async cores (--async N), not threads")
	case o.Greenlet:
		return errors.New("--threads cannot be used with --greenlet: greenlet switches async cores (--async N), not threads")
	}
	return nil
}
