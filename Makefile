# event-platform: set-up, tests and the main job. Every target runs inside env.sh's environment.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
STACK ?= dev
ENV := . ./env.sh &&
ENGINE := scripts/engine/status.sh >/dev/null || { scripts/engine/status.sh; exit 1; };
# The stack's passphrase file (dev: documented fixed value; other stacks: random per checkout),
# unless you exported PULUMI_CONFIG_PASSPHRASE(_FILE) yourself.
PASSPHRASE := if [[ -z "$${PULUMI_CONFIG_PASSPHRASE:-}$${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then \
	export PULUMI_CONFIG_PASSPHRASE_FILE=$$(scripts/stack-passphrase.sh $(STACK)); fi &&
SELECT := pulumi stack select --create --secrets-provider passphrase $(STACK) >/dev/null &&
# Preview without cluster credentials (the pull-request case): with no kubeconfig, render.
# Every preview and update is judged by the policy pack at the stack's levels (policy/<stack>.json).
POLICY := --policy-pack policy $$([[ -f policy/$(STACK).json ]] && echo --policy-pack-config policy/$(STACK).json)
TARGET := if [[ -z "$${EVENTPLATFORM_TARGET:-}" && -z "$${KUBECONFIG:-}" && ! -f $$HOME/.kube/config ]]; then \
	export EVENTPLATFORM_TARGET=render; echo "no kubeconfig found: previewing in render mode"; fi &&

.PHONY: help setup test test-engine test-cluster lint typecheck preview render up destroy cluster-up cluster-down schema docs snapshot bench
help:
	@echo "make setup                 install everything (idempotent)"
	@echo "make test                  lint, type check, unit, workload, engine and local-cluster tests"
	@echo "make test-engine           only the tests through the real Pulumi engine"
	@echo "make test-cluster          pulumi up/preview/refresh/destroy of dev, then prod, on a private local cluster"
	@echo "make preview STACK=dev     pulumi preview of a stack (dev|prod)"
	@echo "make render STACK=prod     every manifest of a stack into rendered/<stack>/, validated (no cluster)"
	@echo "make up STACK=dev          pulumi up of a stack against the current kube context"
	@echo "make cluster-up            a local Kubernetes API server with simulated nodes (kwok), for make up"
	@echo "make cluster-down          stop and delete the local cluster"
	@echo "make schema                regenerate config.schema.json from the config model"
	@echo "make docs                  regenerate docs/components.md from the components"
	@echo "make snapshot              regenerate the resource-name snapshot of both stacks (tests/unit/resource_names/)"
	@echo "make bench                 benchmarks (not part of the tests)"

setup:
	@scripts/setup.sh

test: lint typecheck
	@$(ENGINE) $(ENV) scripts/run-tests.sh tests/unit tests/packaging tests/apps tests/engine tests/cluster

test-engine:
	@$(ENGINE) $(ENV) scripts/run-tests.sh tests/engine

# The end-to-end lifecycles (dev, then prod's protection) on a private local cluster (also in make test).
test-cluster:
	@$(ENGINE) $(ENV) scripts/run-tests.sh tests/cluster

lint:
	@$(ENV) ruff check .

typecheck:
	@$(ENV) mypy event_platform compat/infra provider

schema:
	@$(ENV) python scripts/write_config_schema.py

docs:
	@$(ENV) python scripts/write_component_docs.py

# Only after adding resources on purpose, or once a rename carries its alias (tests/unit/resource_names.py).
snapshot:
	@$(ENV) python -m tests.unit.resource_names

preview:
	@$(ENGINE) $(ENV) $(PASSPHRASE) $(TARGET) $(SELECT) pulumi preview --stack $(STACK) --non-interactive --diff=false $(POLICY)

render:
	@$(ENGINE) scripts/render.sh $(STACK)

up:
	@$(ENGINE) $(ENV) $(PASSPHRASE) $(SELECT) pulumi up --stack $(STACK) --non-interactive --yes $(POLICY)

destroy:
	@$(ENGINE) $(ENV) $(PASSPHRASE) $(SELECT) pulumi destroy --stack $(STACK) --non-interactive --yes

cluster-up:
	@scripts/cluster/up.sh

cluster-down:
	@scripts/cluster/down.sh

bench:
	@$(ENV) python -m bench
