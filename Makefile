# uwsgo: build, run and test.
#
#   make run    build, then serve python/examples/hello.py on :9090
#   make test   build, go vet, go test, then the pytest integration suite
#   make test-pythons   the whole `make test` again on Python 3.13 and 3.14,
#               each inside a Debian root (tests/pythons/)
#   make install [PREFIX=/usr/local] [DESTDIR=]   uwsgo, its man page, the pytest plugin
#   make uninstall [PREFIX=...] [DESTDIR=]        removes exactly what install put there
#
# The Python to build against: PYTHON=python3.13 (an interpreter; its
# python-3.X-embed pkg-config module is used) or PYTHON_PC=python-3.13-embed.
#
# Everything the build and the tests need comes from Debian's packages;
# `make deps` installs whatever is missing (and does nothing when all is there);
# `make deps-build` only what building (and `make install`) needs.
# node (the HTTP conformance tests' reference parser, llhttp) may come from
# elsewhere (nodesource); Debian's nodejs is installed only when there is none.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

export PATH := /usr/local/go/bin:$(PATH)

GO          ?= go
# Debian's interpreter: it is the one the python3-* packages install into
# (a pyenv or venv python3 earlier on PATH would not see them).
PYTHON      ?= /usr/bin/python3
ifdef PYTHON_PC
PY_VERSION  ?= $(patsubst python-%-embed,%,$(PYTHON_PC))
else
PY_VERSION  ?= $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
endif
# pyhost asks pkg-config for python3-embed; build/pkgconfig/<module>/ holds a
# python3-embed.pc that only requires the chosen module, and goes first on
# PKG_CONFIG_PATH. The module's name is also in CGO_CFLAGS: Go's build cache
# does not hash pkg-config's answers, so without it a switch of Python could
# link objects compiled against the other one's headers.
PYTHON_PC   ?= python-$(PY_VERSION)-embed
PC_DIR      := build/pkgconfig/$(PYTHON_PC)
export PKG_CONFIG_PATH := $(CURDIR)/$(PC_DIR)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
export CGO_CFLAGS := $(or $(CGO_CFLAGS),-O2 -g) -DUWSGO_PYTHON_PC=$(PYTHON_PC)
BIN         := bin/uwsgo
PYTEST_ARGS ?=
# `make pytest TESTS=tests/test_nginx.py`: some test files instead of all
TESTS       ?=
export UWSGO_BIN ?= $(CURDIR)/$(BIN)

# Debian 12 (Python 3.11) ships uwsgidecorators.py as its own package; from
# Debian 13 on uwsgi-plugin-python3 carries it (and conflicts with the old one).
UWSGIDECORATORS = $(if $(filter 3.11,$(PY_VERSION)),python3-uwsgidecorators)
# What building (and `make install`) needs, then what only the tests need;
# DEB_PACKAGES is both.
BUILD_PACKAGES := \
	libpython$(PY_VERSION)-dev pkg-config gcc help2man python3
TEST_PACKAGES := \
	python3-greenlet python3-gevent python3-bottle python3-flask python3-psycopg2 \
	postgresql nginx-light \
	python3-pytest python3-requests python3-venv \
	curl wrk strace linux-perf iproute2 \
	uwsgi-core uwsgi-plugin-python3 uwsgi-plugin-greenlet-python3 uwsgi-plugin-gevent-python3 $(UWSGIDECORATORS) python3-cachelib gunicorn \
	chromium python3-websockets python3-autobahn
DEB_PACKAGES = $(BUILD_PACKAGES) $(TEST_PACKAGES)

# The Debian roots that carry the other Pythons (tests/pythons/mkroot.sh).
PYTHON_ROOTS := trixie forky

.PHONY: deps deps-build build run test vet gotest pytest bench clean print-deb-packages python-roots test-pythons $(PC_DIR)/python3-embed.pc

deps:
	@$(call apt_install,$(DEB_PACKAGES),command -v node >/dev/null || missing="$$missing nodejs";)

deps-build:
	@$(call apt_install,$(BUILD_PACKAGES))

# $(call apt_install,PACKAGES[,MORE]): apt-get install those not installed yet
# (waiting for the dpkg lock when another apt-get holds it), and check Go.
# MORE is shell that may add to $$missing.
define apt_install
[ -n "$(PY_VERSION)" ] || { echo "deps: cannot run $(PYTHON) to learn its version: set PYTHON=python3.X (an interpreter) or PYTHON_PC=python-3.X-embed" >&2; exit 1; }; \
installed="$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(1) 2>/dev/null | awk '$$1 == "ii" {print $$2}' || true)"; \
missing=""; \
for p in $(1); do \
  grep -qxF "$$p" <<<"$$installed" || missing="$$missing $$p"; \
done; \
$(2) \
if [ -n "$$missing" ]; then \
  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
  echo "deps: installing:$$missing"; \
  $$sudo apt-get -o DPkg::Lock::Timeout=300 update; \
  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $$missing; \
fi; \
command -v $(GO) >/dev/null || { echo "deps: Go not found (expected in /usr/local/go/bin)" >&2; exit 1; }
endef

print-deb-packages:
	@echo $(DEB_PACKAGES)

# Rewritten on every build (it is tiny), so PYTHON_PC is always the one in use.
$(PC_DIR)/python3-embed.pc:
	@PKG_CONFIG_PATH= pkg-config --exists $(PYTHON_PC) || { echo "build: pkg-config has no module $(PYTHON_PC) (for $(PYTHON): install libpython$(PY_VERSION)-dev)" >&2; exit 1; }
	@mkdir -p $(@D)
	@printf '%s\n' 'Name: python3-embed' 'Description: the Python uwsgo is built against: $(PYTHON_PC)' \
	  "Version: $$(PKG_CONFIG_PATH= pkg-config --modversion $(PYTHON_PC))" 'Requires: $(PYTHON_PC)' >$@.tmp
	@mv $@.tmp $@

build: deps-build $(PC_DIR)/python3-embed.pc
	$(GO) build -o $(BIN) ./cmd/uwsgo

run: build
	exec $(BIN) --http-socket :9090 --wsgi-file python/examples/hello.py --async 10 --ugreen

vet: deps-build
	$(GO) vet ./...

gotest: deps-build
	$(GO) test ./...

# The integration suite alone: make pytest PYTEST_ARGS="-k nginx"
pytest: build deps
	$(PYTHON) -m pytest -v $(or $(TESTS),tests) $(PYTEST_ARGS)

test: build deps
	$(GO) vet ./...
	$(GO) test ./...
	$(PYTHON) -m pytest -v tests $(PYTEST_ARGS)

bench: build deps python-roots
	@if [ ! -f bench/run ]; then echo "make bench: bench/run is missing: there is no benchmark to run yet" >&2; exit 1; fi
	@if [ -x bench/run ]; then ./bench/run; else bash bench/run; fi

# Make (once per machine) or update the Debian roots with Python 3.13 and 3.14,
# both at once (debootstrap and dpkg wait on the network and the disk more
# than on the CPU).
python-roots:
	@$(MAKE) -s --no-print-directory deps DEB_PACKAGES=debootstrap
	@pids=""; for r in $(PYTHON_ROOTS); do tests/pythons/mkroot.sh $$r & pids="$$pids $$!"; done; \
	rc=0; for p in $$pids; do wait $$p || rc=1; done; exit $$rc

# The whole `make test` inside each root, with its own binary
# (bin/uwsgo-py3.13, ...) so the host's bin/uwsgo stays the host's.
test-pythons: python-roots
	@failed=""; \
	for r in $(PYTHON_ROOTS); do \
	  v=$$(tests/pythons/run-in.sh $$r python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  echo "=== make test on Python $$v (Debian $$r root)"; \
	  tests/pythons/run-in.sh $$r make test BIN=bin/uwsgo-py$$v PYTEST_ARGS="$(PYTEST_ARGS)" \
	    || failed="$$failed $$v($$r)"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-pythons: make test failed on Python$$failed" >&2; exit 1; fi; \
	echo "test-pythons: make test passed in every root: $(PYTHON_ROOTS)"

clean:
	rm -rf bin build
# ---------------------------------------------------------------- install
# The binary, its man page (help2man reads --help, which the option table
# writes; the first plain line after Usage: is the man page's NAME) and the pytest plugin with its .dist-info (python/install_plugin.py),
# under $(DESTDIR)$(PREFIX). Only build packages are needed, no test tools.
PREFIX  ?= /usr/local
DESTDIR ?=
MAN1    := $(BIN).1

.PHONY: man install uninstall

man: build
	@name="$$($(abspath $(BIN)) --help | awk '!done && /^[^ \t]/ && !/^Usage:/ && !/:$$/ { sub(/\.$$/, ""); print tolower(substr($$0, 1, 1)) substr($$0, 2); done = 1 }')"; \
	help2man --no-info --no-discard-stderr $${name:+--name="$$name"} --output=$(MAN1).tmp $(abspath $(BIN))
	mv $(MAN1).tmp $(MAN1)

install: man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/uwsgo
	install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/uwsgo.1
	$(PYTHON) python/install_plugin.py install --prefix "$(PREFIX)" --destdir "$(DESTDIR)" \
	  --version "$$($(abspath $(BIN)) --version | awk 'NR == 1 { print $$NF }')"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/uwsgo $(DESTDIR)$(PREFIX)/share/man/man1/uwsgo.1
	$(PYTHON) python/install_plugin.py uninstall --prefix "$(PREFIX)" --destdir "$(DESTDIR)"
