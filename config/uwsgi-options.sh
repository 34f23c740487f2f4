#!/bin/bash
# Writes config/uwsgi-options.txt: the names of every option Debian's uWSGI
# knows, core and every plugin it ships, from its own --help. uwsgo uses the
# list to tell an option of uWSGI it does not support from a typo.
set -eu -o pipefail
cd "$(dirname "$0")"
{
	echo "# The options of $(/usr/bin/uwsgi --version | head -1) (core and shipped plugins), from --help."
	echo "# Made by config/uwsgi-options.sh; one name a line."
	{
		/usr/bin/uwsgi --help
		for p in /usr/lib/uwsgi/plugins/*_plugin.so; do
			n="$(basename "$p" _plugin.so)"
			# a plugin for Python loads after its interpreter
			case "$n" in *_python3*) n="python3,$n" ;; esac
			timeout 5 /usr/bin/uwsgi --plugin "$n" --help || true
		done
	} 2>/dev/null | grep -oE '^\s+(-[a-zA-Z]\|)?--[a-z0-9][a-z0-9_-]*' | sed -E 's/.*--//' | sort -u
} > uwsgi-options.txt
