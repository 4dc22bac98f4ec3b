# The two commands of the contract: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
PY := /usr/bin/python3
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan build-fuzz run test unit interop test-asan fuzz pystubs clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAIC_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

build-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DAIC_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_bitstream fuzz_request fuzz_config

# Python stubs for the interop tests and for any client: generated, never committed.
pystubs: deps
	@scripts/gen-python-stubs $(BUILD)/py

run: build
	@mkdir -p var
	$(BUILD)/aicd

unit: build
	cd $(BUILD) && ctest --output-on-failure

interop: build pystubs
	AIC_BIN=$(abspath $(BUILD))/aicd AIC_PY_STUBS=$(abspath $(BUILD))/py \
	  $(PY) -m pytest -q tests/interop

test-asan: build-asan pystubs
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure
	AIC_BIN=$(abspath $(ASAN_BUILD))/aicd AIC_PY_STUBS=$(abspath $(BUILD))/py AIC_SANITIZED=1 \
	  $(PY) -m pytest -q tests/interop

# Every parser under libFuzzer + ASan + UBSan for FUZZ_SECONDS each, from fresh seeds.
fuzz: build build-fuzz pystubs
	scripts/fuzz-smoke $(FUZZ_BUILD) $(FUZZ_SECONDS) $(abspath $(BUILD))/aic $(abspath $(BUILD))/py

test: unit interop test-asan fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
