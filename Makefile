# metadata-route-agent — the README's quick start in two commands:
#   make demo   the 2013 metadata failure and its fix, in network namespaces (needs root; without root: a plan)
#   make test   every test suite: unit, kernel (namespaces, as root), end to end, BGP, fuzz

SWIFT ?= swift
BIN := .build/debug/metadata-route-agent

.PHONY: build release demo test unit bench fuzz clean

build:
	$(SWIFT) build --product metadata-route-agent

release:
	$(SWIFT) build -c release --product metadata-route-agent

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

clean:
	rm -rf .build .build-*
