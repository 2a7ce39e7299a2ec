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

.PHONY: test inspect setup clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2

inspect: $(STAMP)
	$(PY) -m components inspect examples/sales-bundle.json

clean:
	rm -rf .venv .venv-* .pytest_cache
