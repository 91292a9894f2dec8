# The two commands at the top of the README:
#   make demo   set up, start the local AWS, deploy the example project to several regions, roll out, report
#   make test   set up and run the whole suite (what CI runs)
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test unit integration sanity lint molecule release-checks benchmarks release ee

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

test: setup
	@bash scripts/test.sh

unit: setup
	@bash scripts/test.sh unit

integration: setup
	@bash scripts/test.sh integration

sanity: setup
	@bash scripts/test.sh sanity

lint: setup
	@bash scripts/test.sh lint

molecule: setup
	@bash scripts/test.sh molecule

release-checks: setup
	@bash scripts/test.sh release

# The collection tarball (build/release/), and with it the execution environment's build context (build/ee/context).
release: setup
	@bash scripts/release.sh

ee: setup
	@bash scripts/release.sh ee

benchmarks: setup
	@$(VENV)/python benchmarks/run.py
