# Lepton: `make demo` runs the whole chain offline; `make test` runs the test suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

export LEPTON_HOME ?= $(CURDIR)/.lepton
export DAGSTER_HOME ?= $(LEPTON_HOME)/dagster
# Offline and quiet: no hub downloads, no telemetry from any tool.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install lint browser label-studio label-studio-stop demo test ui mlflow-ui lock clean

install: $(VENV)/.installed

# requirements.lock is the whole environment, installed without resolution: dagster needs
# antlr4-python3-runtime 4.13 while DVC's hydra-core pins 4.9 (used only by `dvc exp` with
# hydra configs, which Lepton does not use), so no resolver can produce this set.
# uv installs the locked set several times faster than pip here. It does not read pip's
# configuration, so pip's find-links (where the lock's torch==2.13.0+cpu wheel lies; PyPI has
# no +cpu build, so without it the install fails rather than fetch a CUDA one) is passed on.
# Bytecode is compiled at install, as pip does: otherwise every test process compiles dagster,
# mlflow and torch on its first import of them.
UV_VERSION = 0.13.9
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))
UV = $(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps --compile-bytecode \
  $(foreach d,$(FIND_LINKS),--find-links $(d))
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV) -r requirements.lock
	$(UV) -e .
	touch $@

# Label Studio in its own venv (.ls-venv, from deploy/label-studio.lock), data under
# $(LEPTON_HOME)/label-studio, on http://127.0.0.1:$${LS_PORT:-8089}.
label-studio:
	scripts/label-studio.sh start

label-studio-stop:
	scripts/label-studio.sh stop

# The input's labels go to Label Studio as pre-annotations, and a scripted annotator (a
# stand-in for people) confirms them there, with a second opinion that sometimes disagrees.
demo: install label-studio
	eval "$$(scripts/label-studio.sh env)" && \
	LEPTON_INPUT_LABELS=$${LEPTON_INPUT_LABELS:-predictions} \
	LEPTON_BASE_ENCODER=$${LEPTON_BASE_ENCODER:-minilm} LEPTON_EPOCHS=$${LEPTON_EPOCHS:-2} \
	LEPTON_EXECUTOR=$${LEPTON_EXECUTOR:-in_process} \
	  $(BIN)/lepton demo --docs $${DOCS:-2000}

# The house rules (pyproject.toml): ruff, the import contracts, mypy on the checked modules.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The tests start their own Label Studio (scripts/label-studio.sh) unless LABEL_STUDIO_URL and
# LS_HOME name a running one, and drive a headless Chromium for the review pack. Two
# pytest-xdist workers by default (a module to each, one shared Label Studio);
# `make test PYTEST_WORKERS=0` runs them one by one.
PYTEST_WORKERS ?= 2
test: install browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

browser:
	scripts/chromium.sh

ui: install label-studio
	eval "$$(scripts/label-studio.sh env)" && $(BIN)/dagster dev -w workspace.yaml

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(LEPTON_HOME)/mlflow/mlflow.db --port 5000

# Re-resolve after changing pyproject.toml: resolve, then force the antlr runtime dagster needs.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[demo,test,lint]'
	.lock-venv/bin/pip install --quiet --no-deps antlr4-python3-runtime==4.13.2
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^lepton' > requirements.lock
	rm -rf .lock-venv

clean: label-studio-stop
	rm -rf $(LEPTON_HOME)
