# metadata-route-agent — the README's quick start in two commands:
#   make demo   the 2013 metadata failure and its fix, in network namespaces (needs root; without root: a plan)
#   make test   every test suite: unit, kernel (namespaces, as root), end to end, BGP, fuzz
# Packaging:
#   make release  a self-contained, stripped binary: dist/metadata-route-agent (Swift runtime linked in)
#   make deb      dist/metadata-route-agent_<version>-1_<arch>.deb (see packaging/deb/build-deb.sh)

SWIFT ?= swift
BIN := .build/debug/metadata-route-agent

.PHONY: build release deb buildinfo demo test unit bench fuzz clean

build:
	$(SWIFT) build --product metadata-route-agent

# The release binary links the Swift runtime and Foundation statically (no toolchain needed where it runs)
# and carries the commit it was built from (scripts/build-info.sh writes it; MRA_BUILD_INFO=1 makes
# Package.swift compile it). Only libc, libm, libstdc++, libgcc_s and libz stay dynamic.
buildinfo:
	bash scripts/build-info.sh

release: buildinfo
	MRA_BUILD_INFO=1 $(SWIFT) build -c release --product metadata-route-agent --static-swift-stdlib
	mkdir -p dist
	strip --strip-all -o dist/metadata-route-agent.tmp .build/release/metadata-route-agent
	mv dist/metadata-route-agent.tmp dist/metadata-route-agent

deb: release
	bash packaging/deb/build-deb.sh dist/metadata-route-agent

# As root, the Debian packages the demo and the tests need are installed first (idempotent, quick when present).
demo: build
	@if [ "$$(id -u)" = 0 ]; then bash scripts/setup-deps.sh base; fi
	bash scripts/demo.sh

test:
	@if [ "$$(id -u)" = 0 ]; then bash scripts/setup-deps.sh; fi
	bash scripts/run-tests.sh

unit:
	$(SWIFT) test

bench:
	bash scripts/bench.sh

fuzz:
	bash scripts/fuzz-netlink.sh 60
	bash scripts/fuzz-amqp.sh 60
	bash scripts/fuzz-neutron.sh 60

clean:
	rm -rf .build .build-* dist
