# The two commands a newcomer needs: `make run` and `make test` (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test setup build train bench nlu-report clean

help:
	@echo "make run         install what is missing, build, train if needed, start everything"
	@echo "make test        run the whole test suite (what CI runs)"
	@echo "make bench       performance benchmark against stock Rasa (prints JSON)"
	@echo "make nlu-report  NLU figures on the held-out set and 5-fold cross-validation"
	@echo "make clean       remove build output, models, caches and test results"

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

clean:
	rm -rf build models results test-results .pytest_cache .rasa bench/results
