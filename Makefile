# The two commands a newcomer needs: `make run` and `make test` (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test setup build train bench nlu-report clean image forget

help:
	@echo "make run         install what is missing, build, train if needed, start everything"
	@echo "make test        run the whole test suite (what CI runs)"
	@echo "make bench       performance benchmark against stock Rasa (prints JSON)"
	@echo "make nlu-report  NLU figures on the held-out set and 5-fold cross-validation"
	@echo "make clean       remove build output, models, caches and test results"
	@echo "make forget      delete stored conversations: SENDER=rest:ID and/or DAYS=30 (docs/privacy.md)"
	@echo "make image       build the container image with podman (BASE=python:3.10-slim; docs/deploy.md)"

setup:
	@scripts/setup.sh

build: setup
	@scripts/build.sh

train: setup
	@scripts/train.sh

run: build
	@.venv/bin/python scripts/stack.py run

test:
	@scripts/test.sh

bench: build
	@.venv/bin/python -m bench.run

nlu-report: build
	@scripts/nlu_report.sh

# Deletes from the conversation store (BACLOFEN_TRACKER_URL, else var/conversations.sqlite).
forget: setup
	@.venv/bin/python scripts/forget.py $(if $(SENDER),--sender "$(SENDER)") $(if $(DAYS),--older-than "$(DAYS)")

clean:
	rm -rf build models results test-results .pytest_cache .rasa bench/results

# The container image for both servers (deploy/Containerfile, docs/deploy.md). Not part of
# `make test`: a first build downloads and trains for several minutes.
# BASE: any image with Python 3.10 or apt; PIP_CERT (pip's own variable): a CA bundle for
# a TLS-inspecting proxy, passed as a build secret; IMAGE_BUILD_FLAGS: e.g. --network host.
IMAGE ?= localhost/baclofen-assistant:latest
BASE ?= python:3.10-slim
PODMAN ?= podman
IMAGE_BUILD_FLAGS ?=
comma := ,

image:
	$(PODMAN) build --format docker -f deploy/Containerfile --build-arg BASE=$(BASE) \
	  $(if $(PIP_CERT),--secret id=pip_ca$(comma)src=$(PIP_CERT)) $(IMAGE_BUILD_FLAGS) -t $(IMAGE) .
