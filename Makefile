# The two commands a new user runs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libcurl4-openssl-dev pkg-config curl
VENV := .venv
PYTHON_TEST_TOOLS := schemathesis==4.32.5 openapi-spec-validator==0.9.0

.PHONY: deps venv build demo test

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
$(VENV)/.installed: | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PYTHON_TEST_TOOLS)
	touch $@

build: deps
	swift build

test: deps venv
	swift test

demo: build
	scripts/demo.sh
