# The two commands a new user runs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libcurl4-openssl-dev pkg-config curl iproute2
VENV := .venv
PYTHON_TEST_TOOLS := schemathesis==4.32.5 openapi-spec-validator==0.9.0 xxhash==4.1.0 kubernetes-validate==1.37.0 numpy==2.3.5 requests==2.32.5 \
	tensorboard==2.21.0 dp-accounting==0.6.0

# The molecules: ../shared/data/nci-tpsa where it exists, else what `make data` builds.
MOLECULES := $(if $(wildcard ../shared/data/nci-tpsa/train.jsonl),../shared/data/nci-tpsa,data/nci-tpsa)
# The handwritten digits: ../shared/data/digits where it exists, else what `make data` builds.
DIGITS := $(if $(wildcard ../shared/data/digits/train.jsonl),../shared/data/digits,data/digits)

.PHONY: deps venv build release demo test test-kernels data molecules digits train-molecules train-digits train-digits-private fuzz tsan asan bench proto

# Installs the Debian packages that are missing, and only those.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing="$$missing python3 python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Python tools the tests call: the OpenAPI validator and schemathesis.
venv: $(VENV)/.installed
# Remade when this file changes, so a new tool in the list reaches existing venvs too.
$(VENV)/.installed: Makefile | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PYTHON_TEST_TOOLS)
	touch $@

build: deps
	swift build

# The whole suite, then the numeric tests once more under every OpenBLAS kernel the CPU can run
# (about a minute): float32 sums differ in their last bits between kernels, and the tests must not.
test: deps venv
	swift test
	scripts/test-kernels.sh

test-kernels: deps
	scripts/test-kernels.sh

release: deps
	swift build -c release

demo: build molecules
	MOLECULES=$(MOLECULES) scripts/demo.sh

# Builds data/nci-tpsa/{train,valid}.jsonl from the table the rdkit package ships, and
# data/digits/{train,valid}.jsonl from the images the scikit-learn package ships.
data: data/nci-tpsa/train.jsonl data/digits/train.jsonl
data/nci-tpsa/train.jsonl: scripts/make_data.py | deps
	python3 -m venv .venv-data
	.venv-data/bin/pip install -q --disable-pip-version-check rdkit
	.venv-data/bin/python scripts/make_data.py data/nci-tpsa
data/digits/train.jsonl: scripts/make_digits.py | deps
	python3 -m venv .venv-data
	.venv-data/bin/pip install -q --disable-pip-version-check scikit-learn
	.venv-data/bin/python scripts/make_digits.py data/digits

molecules:
	@[ -f $(MOLECULES)/train.jsonl ] || $(MAKE) data/nci-tpsa/train.jsonl
digits:
	@[ -f $(DIGITS)/train.jsonl ] || $(MAKE) data/digits/train.jsonl

# Trains the GCN over HTTP to the validation MAE in the README (about 3 minutes on 2 cores).
train-molecules: release molecules
	scripts/train_molecules.sh $(MOLECULES) $(or $(EPOCHS),200)

# Trains a dense classifier on the handwritten digits over HTTP (about 5 seconds of training here).
train-digits: release digits
	scripts/train_digits.sh $(DIGITS) $(or $(EPOCHS),40)

# The same with DP-SGD at three privacy levels (target ε 1, 3 and 8): one table row each (about 20 seconds).
train-digits-private: release digits
	scripts/train_digits_private.sh $(DIGITS) $(or $(EPOCHS),30)

# Regenerates the committed Swift code of proto/*.proto (TensorBoard's event messages) with protoc
# (Debian's protobuf-compiler) and the protoc-gen-swift of the swift-protobuf version Package.swift names.
proto: deps
	@command -v protoc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler)
	swift build --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build/debug/protoc-gen-swift --swift_out=Sources/TensorBoard/Generated \
		--proto_path=proto proto/tensorboard_event.proto

# Fuzzes the HTTP head parser and the JSON request decoders with libFuzzer, FUZZ_SECONDS each
# (default 600). Inputs that crash are written to Tests/FuzzCorpus/<target>/, where the tests
# replay them; commit them with the fix.
FUZZ_SECONDS ?= 600
FUZZ_BUILD := swift build -c release --scratch-path .build-fuzz --toolset scripts/lld-toolset.json \
	-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
fuzz: deps
	$(FUZZ_BUILD) --product fuzz-http
	$(FUZZ_BUILD) --product fuzz-json
	for target in http json; do \
		mkdir -p .build-fuzz/corpus/$$target && \
		.build-fuzz/release/fuzz-$$target -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
			-artifact_prefix=Tests/FuzzCorpus/$$target/ .build-fuzz/corpus/$$target Tests/FuzzCorpus/$$target || exit 1; \
	done

# The whole test suite under ThreadSanitizer and AddressSanitizer (the servers the tests start included).
tsan: deps venv
	swift test --scratch-path .build-tsan --sanitize=thread
asan: deps venv
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan-suppressions.txt swift test --scratch-path .build-asan --sanitize=address

# Every benchmark, with nginx, wrk, NumPy, orjson, JAX and TensorFlow as peers in the same run; writes BENCHMARKS.md.
bench: release molecules
	@for p in nginx wrk; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	[ -x .venv-bench/bin/python ] || python3 -m venv .venv-bench
	.venv-bench/bin/python -c 'import numpy, orjson, jax, tensorflow' 2>/dev/null || \
		.venv-bench/bin/pip install -q --disable-pip-version-check numpy orjson jax==0.10.2 tensorflow-cpu==2.21.0
	MOLECULES=$(MOLECULES) bench/run.sh
