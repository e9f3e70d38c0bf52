# The two commands of the README: `make run` and `make test`.
# The interpreter the venv is built on: Debian's own python3.11 where there is one (what a fresh Debian 12
# runs anyway; built with PGO and LTO, it runs the hot path 10-15 % faster than a plain source build such
# as pyenv's default, docs/performance.md), else the first python3 on PATH. `make PYTHON=... venv` for another.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= etc/sigcore.yaml
SCTP_VM ?= ../shared/tools/sctp-vm

.PHONY: run test test-fast test-sctp lint deps venv test-venv bench clean

# setup.py builds the C parts (sigcore.diameter._speedups, sigcore.dra._pyform) in place: an edit to them
# rebuilds the venv's install; without a C compiler the install goes on and the pure Python walks do the
# same work.
$(BIN)/sigcore: pyproject.toml setup.py src/sigcore/diameter/_speedups.c src/sigcore/dra/_pyform.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@touch $@

# Test extras (python-diameter, hypothesis, schemathesis, pyscard...); pyscard builds against the Debian
# packages `make deps` installs, so this comes after deps in `make test`.
$(VENV)/.test-deps: $(BIN)/sigcore pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(BIN)/sigcore
test-venv: $(VENV)/.test-deps

deps:
	./scripts/install-debian-deps.sh

## make run: HSS + REST API on 127.0.0.1 with SQLite and a demo subscriber
run: venv
	$(BIN)/sigcore demo --config $(CONFIG)
	$(BIN)/sigcore run --config $(CONFIG)

## make test: everything, real peers included (Debian packages installed when root)
test: deps test-venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not sctp" --durations=25
	@if [ -x $(SCTP_VM) ]; then $(MAKE) test-sctp; else echo "SKIP sctp: $(SCTP_VM) not found"; fi

## make test-fast: the unit layer only (no outside programs), for the edit loop
test-fast: test-venv
	$(BIN)/python -m pytest -q -m "not interop and not slow and not sctp"

test-sctp: test-venv
	SCTP_VM_TIMEOUT=$${SCTP_VM_TIMEOUT:-1200} $(SCTP_VM) -- $(CURDIR)/$(BIN)/python -u -m pytest -q -p no:cacheprovider -m sctp tests/transport/

lint: test-venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: test-venv
	$(BIN)/python bench/codec.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
