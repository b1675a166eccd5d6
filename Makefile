# kefu: `make dev` runs the whole stack locally with demo data; `make test` runs every test.
# Each target installs what it needs on a fresh machine (Python 3.11+ with venv is all it takes).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

CONSOLE_SOURCES := $(shell find console/src console/index.html console/vite.config.ts console/package.json -type f 2>/dev/null)

.PHONY: console console-check deploy-console dev test test-unit coverage lint typecheck typecheck-baseline format build bench bench-bot bench-segments check-template checkov clean clients-js

# The customer SDK and H5 widget (clients/js; Node 20+ and npm): installed from the lockfile.
CLIENTS_JS := clients/js
WIDGET := $(CLIENTS_JS)/dist/widget/kefu-widget.js

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The layer's python/ dir on the venv's path, as Lambda puts /opt/python on sys.path.
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'kefu-layer.pth').write_text(str(pathlib.Path('layers/common/python').resolve()) + '\\n')"
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

# checkov's pins clash with requirements-dev.txt's: its own venv (requirements-checkov.txt).
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

$(CLIENTS_JS)/node_modules/.package-lock.json: $(CLIENTS_JS)/package-lock.json
	cd $(CLIENTS_JS) && npm ci --no-audit --no-fund

$(WIDGET): $(CLIENTS_JS)/node_modules/.package-lock.json $(shell find $(CLIENTS_JS)/src -name '*.ts' 2>/dev/null) $(CLIENTS_JS)/scripts/bundle.mjs
	cd $(CLIENTS_JS) && npm run build

clients-js: $(CLIENTS_JS)/node_modules/.package-lock.json  ## SDK + widget: tsc strict, ESLint, unit tests (vitest), build (widget size budget)
	cd $(CLIENTS_JS) && npm run typecheck && npm run lint && npm test && npm run build


# The web console (console/, docs/console.md): Node packages exactly as the lockfile says, then
# a build when a source is newer than dist/. `make dev` serves it; `make test` checks it.
console/node_modules/.installed: console/package-lock.json
	cd console && npm ci --no-audit --no-fund
	touch $@

console/dist/index.html: console/node_modules/.installed $(CONSOLE_SOURCES) docs/openapi.yaml
	cd console && npm run build

console: console/dist/index.html  ## build the console (console/dist)

console-check: console/node_modules/.installed  ## ESLint, vue-tsc, Vitest, build, initial-JS budget
	cd console && npm run lint && npm run typecheck && npm test && npm run build && npm run budget

# After `sam deploy`: upload console/dist and a config.json made from the stack's outputs to the
# console bucket, and invalidate index.html and config.json (infra/deploy_console.py).
STACK ?= kefu
deploy-console: $(VENV)/.installed console  ## publish the console to the deployed stack (STACK=name)
	$(PY) -m infra.deploy_console --stack $(STACK)

dev: $(VENV)/.installed console $(WIDGET)  ## the whole stack on 127.0.0.1 (console + API :3000, moto :5000, WeChat stand-in :3100, widget demo :3200)
	$(PY) -m infra.local --parameter Stage=local

# WORKERS: pytest-xdist processes. Two, one per core of the machine the targets are measured on:
# the unit tests spread over both, and each local stack's tests stay together, in order, on one
# (xdist_group, --dist loadgroup in pyproject.toml), so the waits of the integration tests
# overlap with the other worker's CPU. WORKERS=0 runs everything in one process (e.g. for pdb).
# The unit targets leave out schemathesis's plugin (only tests/contract uses it; importing it
# and hypothesis costs each worker a second or two). PYTEST_ARGS: extra pytest arguments.
WORKERS ?= 2
PYTEST_ARGS ?=

test: $(VENV)/.installed console-check clients-js  ## every test: console and SDK checks, unit, integration (local stack), contract, browser, end-to-end
	$(PY) -m pytest -n $(WORKERS) $(PYTEST_ARGS)

# Coverage of the deployed code (the kefu layer and the functions) by the unit tests, which run
# it in process; CI prints it. (Not over the local stack's threads: tracing slows their timed waits.)
coverage: $(VENV)/.installed
	$(PY) -m pytest tests/unit -n $(WORKERS) -p no:schemathesis -q --cov=layers/common/python/kefu --cov=functions --cov-report=term:skip-covered $(PYTEST_ARGS)

test-unit: $(VENV)/.installed  ## unit tests only: in-process moto, no sockets, no local stack
	$(PY) -m pytest tests/unit -n $(WORKERS) -p no:schemathesis --disable-socket --allow-unix-socket $(PYTEST_ARGS)

lint: $(VENV)/.installed typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml

# mypy over the layer, the functions and infra (config in pyproject.toml). Errors listed in
# mypy-baseline.txt predate the checker; any other error fails. Fix one, then shrink the
# baseline with `make typecheck-baseline`.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy | $(VENV)/bin/mypy-baseline filter --baseline-path mypy-baseline.txt --hide-stats

typecheck-baseline: $(VENV)/.installed
	$(VENV)/bin/mypy | $(VENV)/bin/mypy-baseline sync --baseline-path mypy-baseline.txt

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

checkov: $(CHECKOV_VENV)/.installed  ## checkov on template.yaml; skips only those reviewed in .checkov.yaml
	$(CHECKOV) --config-file .checkov.yaml --file template.yaml

check-template: $(VENV)/.installed $(SAM_VENV)/.installed checkov  ## cfn-lint + checkov + sam build (what CI runs)
	$(VENV)/bin/cfn-lint template.yaml
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build --template template.yaml --build-dir .aws-sam/build

build: check-template

bench: $(VENV)/.installed $(SAM_VENV)/.installed  ## prints DynamoDB requests per message, import times, layer size, latency
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build --template template.yaml --build-dir .aws-sam/build
	$(PY) -m infra.bench --layer-dir .aws-sam/build/CommonLayer

bench-segments: $(VENV)/.installed  ## the segments figure alone (100,000 customers; ~5 min of moto writes)
	$(PY) -m infra.bench.segments

bench-bot: $(VENV)/.installed  ## bot quality (top-1, answer rate, out-of-scope) and reply latency on ../shared/data/faq
	$(PY) -m infra.bench.bot

clean:
	rm -rf .aws-sam .pytest_cache
