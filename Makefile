# Two commands for a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: run test lint bench docs setup lock clean postgres chromium

# The environment is installed from requirements.lock: every package at the exact
# version and hash the tests were run with; then mnist-tui itself, editable.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/mnist-tui $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mnist_tui tests benchmarks tools
	$(BIN)/ruff format --check mnist_tui tests benchmarks tools
	$(BIN)/mypy mnist_tui
	$(BIN)/lint-imports

test: lint postgres chromium
	$(BIN)/python -m pytest -q

# The generated pages of the manual (docs/cli.md, docs/app.md) and the screenshot.
docs: $(STAMP)
	$(BIN)/python tools/make_docs.py --screenshot

bench: $(STAMP)
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/tui_overhead.py
	$(BIN)/python benchmarks/first_frame.py
	$(BIN)/python benchmarks/sweep_speed.py
	$(BIN)/python benchmarks/chart_draw.py
	$(BIN)/python benchmarks/tensorboard_cost.py
	$(BIN)/python benchmarks/runs_scale.py

# $(call apt_install,PROBE,PACKAGE,WHO): unless the shell test PROBE passes, install
# Debian's PACKAGE with apt-get (as root, else through sudo); without apt-get, say that
# WHO needs it and go on (those tests are then skipped).
define apt_install
	@if $(1) >/dev/null 2>&1; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "$(2) is missing and there is no apt-get: install it for $(3)"; \
		exit 0; fi; \
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2)
endef

# The PostgreSQL server the sweep tests start on loopback in a temporary folder (Debian's
# package: the tests run its initdb and pg_ctl; no service is used).
postgres:
	$(call apt_install,ls /usr/lib/postgresql/*/bin/initdb,postgresql,the sweep tests)

# The browser the `mnist-tui serve` test drives through Playwright (Debian's package, never
# Playwright's own download).
chromium:
	$(call apt_install,command -v chromium,chromium,the browser test)

# After changing dependencies in pyproject.toml: resolve them again, for every platform.
# Not after $(STAMP): a lock that no longer installs must still be resolvable again.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes -c lock-constraints.txt -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
