# Exactly what the README and CI run. Every target works on a fresh Debian machine with
# Python 3.11: it makes .venv and installs the project (and, for tests, Debian packages).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: render test lint typecheck unit promtool-test bench clean system-deps current-prometheus demo

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    echo "python3 -m venv failed; installing python3-venv"; \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

render: $(STAMP)
	@scripts/install-system-deps.sh render
	$(BIN)/python -m sre.render --config sre.yaml --out build

system-deps:
	@scripts/install-system-deps.sh test

# Prometheus 3.5 / Alertmanager 0.33 from Debian's newer suite, unpacked into .cache/debs
# (nothing installed system-wide); the tests run on these and on Debian 12's 2.42 / 0.25.
CURRENT_BIN := .cache/debs/root/usr/bin
current-prometheus:
	@python3 scripts/fetch-current-prometheus.py

# The workflow and the image definition get their ecosystem's linters (all from PyPI wheels
# in .[dev]); exceptions live, justified, in .hadolint.yaml (docs/development-linters.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck -pyflakes= .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .github/workflows/
	$(BIN)/hadolint --config .hadolint.yaml Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

# promtool unit tests run against the freshly rendered rule files in build/rules/.
promtool-test: $(STAMP) system-deps current-prometheus
	$(BIN)/python -m sre.render --config sre.yaml --out build
	promtool test rules rules/tests/*.yaml
	$(CURRENT_BIN)/promtool test rules rules/tests/*.yaml

unit: $(STAMP) system-deps current-prometheus
	$(BIN)/pytest

# pytest runs last so that its summary line closes the output.
test: lint typecheck promtool-test unit

bench: $(STAMP)
	@scripts/install-system-deps.sh bench
	$(BIN)/python -m benchmarks $(BENCH)

# The whole pipeline on loopback until Ctrl-C (docs/demo.md).
demo: $(STAMP)
	@scripts/install-system-deps.sh test
	$(BIN)/python -m sre.devtools.demo

clean:
	rm -rf build .mypy_cache .ruff_cache .pytest_cache
