# The two commands a new user runs are `make demo` and `make test`; both install what they need.
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libcurl4-openssl-dev pkg-config curl
SWIFT_BUILD_FLAGS ?=

.PHONY: deps demo test

# Installs the Debian packages that are missing, and only those.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test: deps
	swift test $(SWIFT_BUILD_FLAGS)

demo: deps
	swift build $(SWIFT_BUILD_FLAGS)
