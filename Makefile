# cinnabar — build, test, benchmark.
#
#   make test    install missing prerequisites, build the Redis 7.2.6 oracle (once, into a cache),
#                check formatting and clippy, build, cargo test, then the Python suites
#   make oracle  only build the oracle (tests/oracle.sh)
#   make oracle-tls  the same Redis built with TLS, for `make bench BENCH_ARGS=--tls`
#   make bench   cinnabar vs redis-server side by side (BENCH_ARGS="--memory" etc.)
#   make run     start the server (ARGS="--port 7000 --io-threads 2")

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
CARGO  ?= cargo
SUDO   := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)
PYTEST_DIRS := $(wildcard tests/diff tests/e2e)
ARGS ?=
BENCH_ARGS ?=

export DEBIAN_FRONTEND := noninteractive
# rustup installs cargo here; a non-login shell (CI) may not have it on PATH
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: test deps oracle oracle-tls lint build cargo-test pytest bench run clean

test: deps oracle lint build cargo-test pytest

# The differential oracle: Redis 7.2.6 built from ../shared/redis-7.2.6-src.tar.gz into
# $(XDG_CACHE_HOME or ~/.cache)/cinnabar/redis-7.2.6, once (tests/oracle.sh). The test recipes
# below export its redis-server as CINNABAR_ORACLE; without the tarball it is empty and the tests
# fall back to Debian's redis-server 7.0 (tests/support.py), saying so in one line.
WITH_ORACLE = oracle_dir=$$(tests/oracle.sh); export CINNABAR_ORACLE=$${oracle_dir:+$$oracle_dir/redis-server};

oracle:
	@tests/oracle.sh >/dev/null

# Redis 7.2.6 with BUILD_TLS=yes (needs libssl-dev) into $(XDG_CACHE_HOME or ~/.cache)/cinnabar/
# redis-7.2.6-tls: the redis-server bench/bench.py --tls compares against.
oracle-tls:
	@command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl \
		|| { echo "installing libssl-dev"; $(SUDO) apt-get update; $(SUDO) apt-get install -y libssl-dev pkg-config; }
	@ORACLE_TLS=yes tests/oracle.sh >/dev/null

# The tree stays rustfmt-formatted (rustfmt.toml) and clippy-clean, tests included.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --release -- -D warnings

# Everything the tests need on a fresh Debian machine, installed only when missing.
deps:
	@need_apt=""; \
	command -v redis-server >/dev/null 2>&1 || need_apt="$$need_apt redis-server"; \
	command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || need_apt="$$need_apt redis-tools"; \
	command -v cc >/dev/null 2>&1 || need_apt="$$need_apt build-essential"; \
	command -v openssl >/dev/null 2>&1 || need_apt="$$need_apt openssl"; \
	command -v $(PYTHON) >/dev/null 2>&1 || need_apt="$$need_apt python3"; \
	$(PYTHON) -c 'import sys, redis, pytest; sys.exit(int(redis.__version__.split(".")[0]) < 8)' >/dev/null 2>&1 \
		|| $(PYTHON) -m pip --version >/dev/null 2>&1 || need_apt="$$need_apt python3-pip"; \
	if [ -n "$$need_apt" ]; then \
		echo "installing:$$need_apt"; \
		$(SUDO) apt-get update; \
		$(SUDO) apt-get install -y $$need_apt; \
		case "$$need_apt" in *redis-server*) \
			echo "stopping the distro redis-server service (tests start their own servers)"; \
			$(SUDO) service redis-server stop >/dev/null 2>&1 || true; \
			$(SUDO) systemctl stop redis-server >/dev/null 2>&1 || true; \
			$(SUDO) systemctl disable redis-server >/dev/null 2>&1 || true;; \
		esac; \
	fi
	@# redis-py 8 (RESP3 by default, as users run it), python-rq 3 (job results in streams:
	@# XADD, XREVRANGE, XREAD BLOCK) and Celery 5 (Redis broker and result backend), each at
	@# its current major; prometheus_client parses the metrics endpoint's text as Prometheus does.
	@if ! $(PYTHON) -c 'import sys, redis, pytest, rq, celery, prometheus_client.parser; sys.exit(int(redis.__version__.split(".")[0]) < 8 or int(rq.__version__.split(".")[0]) < 3 or int(celery.__version__.split(".")[0]) < 5)' >/dev/null 2>&1; then \
		echo "installing redis-py 8, pytest, python-rq 3, celery 5 and prometheus_client"; \
		$(PYTHON) -m pip install -q -U 'redis>=8' pytest 'rq>=3' 'celery>=5' prometheus_client 2>/dev/null \
			|| $(PYTHON) -m pip install -q -U --break-system-packages 'redis>=8' pytest 'rq>=3' 'celery>=5' prometheus_client; \
	fi
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install a Rust toolchain (rustup)"; exit 1; }
	@if command -v rustup >/dev/null 2>&1; then \
		for c in rustfmt clippy; do \
			rustup component list --installed 2>/dev/null | grep -q "^$$c" || rustup component add $$c || true; \
		done; \
	fi

build:
	$(CARGO) build --release

cargo-test: build oracle
	$(WITH_ORACLE) $(CARGO) test --release

pytest: build oracle
	$(WITH_ORACLE) $(PYTHON) -m pytest -q $(PYTEST_DIRS)
	@# Again with one worker, as bench/bench.py runs cinnabar on two cores (a known-short
	@# script then runs on the worker even inside a pipeline).
	$(WITH_ORACLE) CINNABAR_THREADS=1 $(PYTHON) -m pytest -q tests/diff/test_cases.py tests/e2e/test_e2e_concurrency.py \
		tests/e2e/test_e2e_streams_recovery.py

bench: deps build
	bench/run.sh $(BENCH_ARGS)

run: build
	$(CARGO) run --release -- $(ARGS)

clean:
	$(CARGO) clean
