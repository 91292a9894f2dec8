# The two commands at the top of the README:
#   make demo   set up, start the local AWS, deploy the example project to several regions, roll out, report
#   make test   set up and run the whole suite (what CI runs)
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test unit integration sanity lint molecule benchmarks

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

benchmarks: setup
	@$(VENV)/python benchmarks/run.py
