#!/usr/bin/env bash
# Make (or bring up to date) a Debian root with another Python in it, for
# building uwsgo and running its whole test suite against that Python.
#
#   tests/pythons/mkroot.sh SUITE      SUITE: trixie (Python 3.13), forky (3.14)
#
# The root is /var/tmp/uwsgo-pythons/SUITE ($UWSGO_PYTHONS_DIR overrides the
# folder), made once with debootstrap from the machine's Debian mirror and
# reused after that. $ROOT/.uwsgo-packages records the packages installed in
# it; when the list below or the Makefile's DEB_PACKAGES changes, the next run
# installs what is new. Run it as root. tests/pythons/run-in.sh enters a root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
base=${UWSGO_PYTHONS_DIR:-/var/tmp/uwsgo-pythons}
mirror=${UWSGO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

[ $# -eq 1 ] || { echo "usage: $0 SUITE   (trixie or forky)" >&2; exit 2; }
suite=$1
case $suite in
	trixie) script=trixie ;;
	# debootstrap in Debian 12 has no forky script; testing bootstraps as sid does
	forky) script=sid ;;
	*) echo "$0: unknown suite '$suite' (known: trixie, forky)" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then echo "$0: must run as root (debootstrap, chroot)" >&2; exit 1; fi
for tool in debootstrap unshare chroot flock; do
	command -v $tool >/dev/null || { echo "$0: $tool not found (make deps installs it)" >&2; exit 1; }
done

root=$base/$suite
mkdir -p "$base"
# One maker per root at a time (other sessions share the machine).
exec 9>"$base/$suite.lock"
flock 9

secs() { echo $((SECONDS - $1)); }

in_root() { UWSGO_ROOT_SETUP=1 "$here/run-in.sh" "$suite" "$@"; }

if [ ! -f "$root/.uwsgo-bootstrapped" ]; then
	t0=$SECONDS
	rm -rf "$root.new"
	echo "mkroot: debootstrap $suite into $root (from $mirror)"
	debootstrap --variant=minbase --keyring="$keyring" "$suite" "$root.new" "$mirror" "$script" \
		>"$base/$suite-debootstrap.log" 2>&1 || {
		echo "mkroot: debootstrap failed; the last lines of $base/$suite-debootstrap.log:" >&2
		tail -n 20 "$base/$suite-debootstrap.log" >&2
		exit 1
	}
	# Daemons (postgresql, nginx) must not start when their packages install:
	# the tests start their own.
	printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
	chmod +x "$root.new/usr/sbin/policy-rc.d"
	cat >"$root.new/etc/apt/apt.conf.d/90uwsgo" <<-'CONF'
		APT::Install-Recommends "false";
		Acquire::Languages "none";
		// testing's Release file on the mirror may be past its Valid-Until
		Acquire::Check-Valid-Until "false";
	CONF
	touch "$root.new/.uwsgo-bootstrapped"
	rm -rf "$root"
	mv "$root.new" "$root"
	echo "mkroot: debootstrap $suite took $(secs $t0) s"
fi

# The Python this suite carries, e.g. 3.13: python3's dependency on python3.X.
pyver=$(chroot "$root" apt-cache depends python3 2>/dev/null | sed -n 's/.*Depends: python\(3\.[0-9]*\)$/\1/p' | head -n 1)
if [ -z "$pyver" ]; then
	# no package lists yet
	in_root apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null
	pyver=$(chroot "$root" apt-cache depends python3 | sed -n 's/.*Depends: python\(3\.[0-9]*\)$/\1/p' | head -n 1)
fi
[ -n "$pyver" ] || { echo "mkroot: cannot tell which Python $suite's python3 is" >&2; exit 1; }

# What the whole test suite and the benchmarks need: the Makefile's list for
# this Python, plus what a root lacks that the host has anyway.
wanted=$(
	make -s --no-print-directory -C "$repo" print-deb-packages PY_VERSION="$pyver"
	echo python3-dev make procps iproute2 ca-certificates
)
wanted=$(tr ' ' '\n' <<<"$wanted" | sed '/^$/d' | sort -u)

if [ "$(cat "$root/.uwsgo-packages" 2>/dev/null || true)" != "$wanted" ]; then
	t0=$SECONDS
	echo "mkroot: installing packages into $suite (Python $pyver)"
	in_root apt-get -q -o DPkg::Lock::Timeout=300 update
	# Packages this Debian does not have are named and left out.
	have=() missing=()
	for p in $wanted; do
		if chroot "$root" apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then have+=("$p"); else missing+=("$p"); fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "mkroot: $suite has no package: ${missing[*]} (left out)" >&2
	fi
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 \
		install "${have[@]}" >"$base/$suite-install.log" 2>&1 || {
		echo "mkroot: apt-get install failed; the last lines of $base/$suite-install.log:" >&2
		tail -n 30 "$base/$suite-install.log" >&2
		exit 1
	}
	in_root apt-get -q clean
	printf '%s\n' "$wanted" >"$root/.uwsgo-packages"
	echo "mkroot: installing packages into $suite took $(secs $t0) s"
fi
echo "mkroot: $root is ready: $(chroot "$root" python3 --version)"
