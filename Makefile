# uwsgo: build, run and test.
#
#   make run    build, then serve python/examples/hello.py on :9090
#   make test   build, go vet, go test, then the pytest integration suite
#
# Everything the build and the tests need comes from Debian's packages;
# `make deps` installs whatever is missing (and does nothing when all is there).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

export PATH := /usr/local/go/bin:$(PATH)

GO          ?= go
# Debian's interpreter: it is the one the python3-* packages install into
# (a pyenv or venv python3 earlier on PATH would not see them).
PYTHON      ?= /usr/bin/python3
BIN         := bin/uwsgo
PYTEST_ARGS ?=
export UWSGO_BIN ?= $(CURDIR)/$(BIN)

DEB_PACKAGES := \
	libpython3.11-dev pkg-config gcc \
	python3-greenlet python3-gevent python3-bottle python3-flask python3-psycopg2 \
	postgresql nginx-light \
	python3-pytest python3-requests \
	curl wrk strace linux-perf \
	uwsgi-core uwsgi-plugin-python3 uwsgi-plugin-greenlet-python3 uwsgi-plugin-gevent-python3 gunicorn \
	chromium

.PHONY: deps build run test vet gotest pytest bench clean

deps:
	@installed="$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEB_PACKAGES) 2>/dev/null | awk '$$1 == "ii" {print $$2}' || true)"; \
	missing=""; \
	for p in $(DEB_PACKAGES); do \
	  grep -qxF "$$p" <<<"$$installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  echo "deps: installing:$$missing"; \
	  $$sudo apt-get update; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@command -v $(GO) >/dev/null || { echo "deps: Go not found (expected in /usr/local/go/bin)" >&2; exit 1; }
	@pkg-config --exists python3-embed || { echo "deps: pkg-config cannot find python3-embed (libpython3.11-dev)" >&2; exit 1; }

build: deps
	$(GO) build -o $(BIN) ./cmd/uwsgo

run: build
	exec $(BIN) --http-socket :9090 --wsgi-file python/examples/hello.py --async 10 --ugreen

vet: deps
	$(GO) vet ./...

gotest: deps
	$(GO) test ./...

# The integration suite alone: make pytest PYTEST_ARGS="-k nginx"
pytest: build
	$(PYTHON) -m pytest -v tests $(PYTEST_ARGS)

test: build
	$(GO) vet ./...
	$(GO) test ./...
	$(PYTHON) -m pytest -v tests $(PYTEST_ARGS)

bench: build
	@if [ ! -f bench/run ]; then echo "make bench: bench/run is missing: there is no benchmark to run yet" >&2; exit 1; fi
	@if [ -x bench/run ]; then ./bench/run; else bash bench/run; fi

clean:
	rm -rf bin
