#!/usr/bin/env bash
# Run a command as root inside one of the Debian roots that
# tests/pythons/mkroot.sh makes (trixie = Python 3.13, forky = Python 3.14).
#
#   tests/pythons/run-in.sh SUITE CMD [ARG...]
#
# The current directory (the repository) is bind-mounted at the same path and
# CMD runs there; /usr/local/go is bind-mounted, the host's Go module cache is
# shared, and the Go build cache lives inside the root (its C headers differ
# from the host's). /proc, /sys, /dev (with /dev/pts and /dev/shm) are mounted
# and /tmp is a fresh tmpfs. All of it happens in a private mount namespace,
# so the mounts cannot outlive the command; a trap unmounts them as well.
set -euo pipefail

usage() { echo "usage: $0 SUITE CMD [ARG...]   (SUITE: trixie or forky)" >&2; exit 2; }
[ $# -ge 2 ] || usage
suite=$1; shift
base=${UWSGO_PYTHONS_DIR:-/var/tmp/uwsgo-pythons}
root=$base/$suite
here=$(pwd -P)

if [ "$(id -u)" -ne 0 ]; then echo "$0: must run as root (chroot, mount)" >&2; exit 1; fi
if [ ! -f "$root/.uwsgo-packages" ] && { [ -z "${UWSGO_ROOT_SETUP:-}" ] || [ ! -f "$root/.uwsgo-bootstrapped" ]; }; then
	echo "$0: no root at $root: make it with tests/pythons/mkroot.sh $suite" >&2
	exit 1
fi

# Re-enter in a private mount namespace: nothing mounted below reaches the host.
if [ -z "${UWSGO_RUN_IN_NS:-}" ]; then
	exec env UWSGO_RUN_IN_NS=1 unshare --mount --propagation private -- "$0" "$suite" "$@"
fi

mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -R -l "${mounted[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT

mnt() { # mnt TARGET MOUNT-ARGS...
	local target=$1; shift
	mkdir -p "$target"
	mount "$@" "$target"
	mounted+=("$target")
}

mnt "$root/proc" -t proc proc
mnt "$root/sys" --rbind /sys
mnt "$root/dev" --rbind /dev
mnt "$root/tmp" -t tmpfs -o mode=1777 tmpfs
mnt "$root/usr/local/go" --bind -o ro /usr/local/go
mnt "$root$here" --bind "$here"
gomod=$(/usr/local/go/bin/go env GOMODCACHE 2>/dev/null || true)
if [ -n "$gomod" ]; then
	mkdir -p "$gomod"
	mnt "$root/var/cache/uwsgo-gomod" --bind "$gomod"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

# A clean environment: only what the build and the tests need, nothing that
# points into the host's Python or Go state.
envs=(
	PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	HOME=/root
	LANG=C.UTF-8
	TERM="${TERM:-dumb}"
	GOCACHE=/var/cache/uwsgo-gobuild
	GOMODCACHE=/var/cache/uwsgo-gomod
	GOTOOLCHAIN=local
	# the repository's .git may be a worktree link to a path outside the root
	GOFLAGS=-buildvcs=false
	# tests that must know they run in a root (test_install.py)
	UWSGO_PYTHON_ROOT="$suite"
)
set +e
chroot "$root" /usr/bin/env -i "${envs[@]}" /bin/sh -c 'cd "$1" && shift && exec "$@"' run-in "$here" "$@"
rc=$?
set -e
exit $rc
