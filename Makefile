# Two commands on a fresh clone: `make demo` and `make test`. Only python3, pip and make are needed:
# uv (pinned) is installed into .tools/ and builds .venv exactly from uv.lock.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := .tools/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export LANGGRAPH_STRICT_MSGPACK := true
export SHOTLINE_TEST_ARTIFACTS ?= $(CURDIR)/tests/artifacts

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q shotline
	touch $@

demo: setup
	$(VENV)/bin/shotline demo

test: setup
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/ruff check shotline tests bench
	$(VENV)/bin/ruff format --check shotline tests bench

bench: setup
	$(VENV)/bin/python bench/breakdown_120_pages.py
	$(VENV)/bin/python bench/demo_end_to_end.py
	$(VENV)/bin/python bench/render_makespan.py
	$(VENV)/bin/python bench/conflicts.py
	$(VENV)/bin/python bench/api_load.py
	$(VENV)/bin/python bench/assemble_60_shots.py

clean:
	rm -rf out .pytest_cache
