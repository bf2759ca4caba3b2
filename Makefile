# FedLedger: every target sets up what it needs (Python venv, npm tools) on first use.
#   make demo   end-to-end federated learning on the embedded chain and store
#   make test   the whole test suite (also builds geth and Kubo, which the tests start)
#   make tools  build geth and Kubo into tools/bin once (Go module proxy; reused after)
#   make bench  the quick benchmarks (gas, storage, ML); JSON figures land in results/
#   make bench-attacks  the attack benchmark (about an hour on 2 cores; resumable)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The consortium's programs, built from the Go module proxy into tools/bin (git-ignored).
# These pins are the only place their versions are named.
#  - geth v1.13.15: the last release that seals Clique blocks (v1.14 removed it); Go >= 1.23
#    links it only with -checklinkname=0 (fjl/memsize reaches into the runtime).
#  - Kubo v0.43.1: its go.mod replaces go-libp2p with a fork the proxy does not serve;
#    the fork only waited for a go-libp2p release on quic-go v0.62 / webtransport-go
#    v0.13, which v0.50.0 is, so we build with that release instead of the fork.
TOOLS_BIN     := tools/bin
GETH_VERSION  := v1.13.15
KUBO_VERSION  := v0.43.1
KUBO_LIBP2P   := v0.50.0
GETH := $(TOOLS_BIN)/geth
IPFS := $(TOOLS_BIN)/ipfs
# Flower, the reference peer of the robust aggregators, in a venv of its own (its pins
# conflict with ours: docs/verification.md); tests/ml/test_robust_flower.py runs it.
FLOWER_VENV := .venv-flower

.PHONY: setup tools setup-flower setup-browser demo test bench bench-attacks lint clean

setup: $(VENV)/.installed node_modules/.installed

# The set-up's own chatter (pip's and setuptools' warnings) goes to a log, shown only if a
# step fails: what a person sees is one line per step.
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "setting up $(VENV): the package and its pinned dependencies (first run only;" \
		"2-7 minutes, most of it TensorFlow; log in $(VENV)/setup.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip > $(VENV)/setup.log 2>&1 \
		|| { cat $(VENV)/setup.log; exit 1; }
	@$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]' >> $(VENV)/setup.log 2>&1 \
		|| { cat $(VENV)/setup.log; exit 1; }
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "setting up node_modules: solc, anvil, OpenZeppelin (first run only; about a minute)"
	@npm ci --no-audit --no-fund --loglevel=error > .npm-setup.log 2>&1 \
		|| { cat .npm-setup.log; rm -f .npm-setup.log; exit 1; }
	@rm -f .npm-setup.log
	@touch $@

tools: $(GETH).$(GETH_VERSION) $(IPFS).$(KUBO_VERSION)

# The stamp carries the version: changing a pin above rebuilds that program.
$(GETH).$(GETH_VERSION):
	mkdir -p $(TOOLS_BIN)
	GOBIN=$(abspath $(TOOLS_BIN)) GOFLAGS=-buildvcs=false go install -trimpath \
		-ldflags=-checklinkname=0 github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION)
	$(GETH) version | grep -q "$(patsubst v%,%,$(GETH_VERSION))-stable"
	touch $@

$(IPFS).$(KUBO_VERSION):
	mkdir -p $(TOOLS_BIN)
	go mod download github.com/ipfs/kubo@$(KUBO_VERSION)
	rm -rf $(TOOLS_BIN)/kubo-src
	cp -r "$$(go env GOMODCACHE)/github.com/ipfs/kubo@$(KUBO_VERSION)" $(TOOLS_BIN)/kubo-src
	chmod -R u+w $(TOOLS_BIN)/kubo-src
	cd $(TOOLS_BIN)/kubo-src && go mod edit -dropreplace=github.com/libp2p/go-libp2p \
		-require=github.com/libp2p/go-libp2p@$(KUBO_LIBP2P) && \
		GOFLAGS=-buildvcs=false go build -mod=mod -trimpath -o $(abspath $(IPFS)) ./cmd/ipfs
	rm -rf $(TOOLS_BIN)/kubo-src
	$(IPFS) version | grep -q "$(patsubst v%,%,$(KUBO_VERSION))"
	touch $@

setup-flower: $(FLOWER_VENV)/.installed

$(FLOWER_VENV)/.installed: scripts/flower-requirements.txt
	$(PYTHON) -m venv --clear $(FLOWER_VENV)
	$(FLOWER_VENV)/bin/pip install --quiet --only-binary=:all: -r scripts/flower-requirements.txt
	touch $@

# The dashboard's browser tests drive Debian's Chromium through Playwright (no browser
# download); installed once, only where /usr/bin/chromium is missing (CI runs as root).
setup-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

demo: setup
	$(BIN)/fedledger demo $(ARGS)

test: setup tools setup-flower setup-browser
	$(BIN)/pytest $(ARGS)

bench: setup tools
	mkdir -p results
	$(BIN)/python scripts/bench_gas.py --json results/gas.json
	$(BIN)/python scripts/bench_storage.py --json results/storage.json
	$(BIN)/python scripts/bench_ml.py --json results/ml.json
	$(BIN)/python scripts/bench_signing.py --json results/signing.json
	$(BIN)/python scripts/bench_sealing.py --json results/sealing.json

bench-attacks: setup
	$(BIN)/python scripts/bench_attacks.py --json docs/bench_attacks.json \
		--plots docs/img --table results/bench_attacks.md $(ARGS)

lint: setup
	$(BIN)/ruff check fedledger oracle scripts tests
	$(BIN)/ruff format --check fedledger oracle scripts tests
	$(BIN)/lint-imports
	$(BIN)/mypy fedledger oracle

clean:
	rm -rf build .fedledger results .pytest_cache .hypothesis
