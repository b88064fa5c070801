# Two commands: `make run` (set up, build the index, start the app) and `make test` (set up, run tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The offline mirror of the Microsoft Learn pages, when it sits beside the checkout (as in CI).
MIRROR ?= $(wildcard ../shared/corpus-mirror)

export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ORT_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

LLAMA_VERSION := 0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/azcompare/wheels/llama-avx2
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: run test setup lint eval bench compare models-qwen clean browser

setup: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU wheel in pyproject.toml; install it first so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	# llama.cpp is compiled once per machine (several minutes) into a wheel kept in the user's cache. Not
	# -march=native: these CPUs report AMX, whose tile instructions the sandbox refuses (SIGILL); AVX2 runs.
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || { \
		echo "compiling llama-cpp-python $(LLAMA_VERSION) (once per machine, a few minutes)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-cache-dir --no-deps \
			-w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"; }
	$(BIN)/python -m pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[test]'
	@touch $@

run: setup
	AZCOMPARE_MIRROR_DIR=$${AZCOMPARE_MIRROR_DIR:-$(MIRROR)} $(BIN)/python app.py

test: setup browser lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests scripts app.py
	$(BIN)/ruff format --check src tests scripts app.py

# The held-out split is the one to report; `make eval SPLIT=dev` scores the tuning split.
SPLIT ?= heldout
eval: setup
	AZCOMPARE_MIRROR_DIR=$${AZCOMPARE_MIRROR_DIR:-$(MIRROR)} $(BIN)/azcompare eval evals/questions.yaml --split $(SPLIT)

bench: setup
	AZCOMPARE_MIRROR_DIR=$${AZCOMPARE_MIRROR_DIR:-$(MIRROR)} $(BIN)/python scripts/benchmark.py

compare: setup
	AZCOMPARE_MIRROR_DIR=$${AZCOMPARE_MIRROR_DIR:-$(MIRROR)} $(BIN)/python scripts/compare_providers.py evals/questions.yaml --split $(SPLIT)

models-qwen: setup
	$(BIN)/azcompare models install qwen

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
	find index -mindepth 1 ! -name .gitignore -exec rm -rf {} +
