# The two commands of the contract: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
PY := /usr/bin/python3
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan build-fuzz run test unit interop cli oracle model benchpy trainpy test-asan fuzz pystubs clean bench

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
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_bitstream fuzz_request fuzz_config fuzz_media_files fuzz_model_file fuzz_entropy

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

# The aic tool against real PNG/Y4M/WAV files.
cli: build
	AIC_CLI=$(abspath $(BUILD))/aic $(PY) -m pytest -q tests/cli

# SSIM against scikit-image, the independent implementation.
oracle: build
	AIC_SSIM_TOOL=$(abspath $(BUILD))/aic_ssim_tool $(PY) -m pytest -q tests/oracle

# Model files written by the Python exporter (train/aicm.py) load in C.
model: build
	AIC_TEST_MODEL_FILE=$(abspath $(BUILD))/test_model_file $(PY) -m pytest -q tests/model

# The training tools without training: rANS and tables against libaic's C coder, the exporter's
# round trip, checkpoint averaging and widening (PyTorch on the CPU, small models).
trainpy: deps
	$(PY) -m pytest -q train

# bench/neural.py's bookkeeping (no benchmark runs): repeated runs, spreads, the record.
benchpy: deps
	$(PY) -m pytest -q tests/bench

test-asan: build-asan pystubs
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 AIC_NIC_NO_TIMING=1 AIC_NIC_QUICK=1 ctest --output-on-failure
	AIC_BIN=$(abspath $(ASAN_BUILD))/aicd AIC_PY_STUBS=$(abspath $(BUILD))/py AIC_SANITIZED=1 \
	  $(PY) -m pytest -q tests/interop
	AIC_CLI=$(abspath $(ASAN_BUILD))/aic $(PY) -m pytest -q tests/cli

# Every parser under libFuzzer + ASan + UBSan for FUZZ_SECONDS each, from fresh seeds.
fuzz: build build-fuzz pystubs
	scripts/fuzz-smoke $(FUZZ_BUILD) $(FUZZ_SECONDS) $(abspath $(BUILD))/aic $(abspath $(BUILD))/py

test: unit interop cli oracle model benchpy trainpy test-asan fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Codec and engine benchmarks on Debian's wallpapers and opencv's sample videos: installs its
# extra deps, builds Release in BENCH_BUILD, prepares var/data, runs, and rewrites the results
# in docs/benchmarks.md. QUICK=1 runs a reduced set (a few minutes) for a smoke check.
BENCH_BUILD ?= build-bench
bench: deps
	@mkdir -p $(BENCH_BUILD) && date +%s > $(BENCH_BUILD)/bench-started
	@bench/install-deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target bench_codecs bench_video bench_neural
	scripts/prepare-data $(if $(QUICK),--quick)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
	  $(PY) bench/run.py --build $(BENCH_BUILD) $(if $(QUICK),--quick) \
	  --started $$(cat $(BENCH_BUILD)/bench-started)
