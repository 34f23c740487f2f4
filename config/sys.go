package config

import (
	"os/user"
	"runtime"
	"strconv"
	"time"
)

// Hooks for the magic variables (tests pin them).
var (
	numCPU = runtime.NumCPU
	now    = time.Now
)

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
