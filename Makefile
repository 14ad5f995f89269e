# The two commands of the README: `make run` and `make test`.
# Everything the tests need is installed here, pinned.

GO          ?= go
BIN         := $(CURDIR)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
NPM_DIR     := testdata/npm

.PHONY: run test deps system vet lint unit bench fuzz clean

## run: the main job: stoa up (NATS with JetStream in ./.stoa, a function worker; Ctrl-C stops it)
run:
	$(GO) build -o $(BIN)/stoa ./cmd/stoa
	$(BIN)/stoa up

## test: install what the tests need, then vet, lint and run every test with -race
test: deps vet lint unit

# Each pinned npm tree the tests use, installed from its lockfile.
NPM_TREES := $(NPM_DIR) gateway/test/testdata/claudia bench/gateway/testdata/local-api
NPM_STAMPS := $(addsuffix /node_modules/.package-lock.json,$(NPM_TREES))

deps: system $(NPM_STAMPS) $(BIN)/staticcheck

# Debian packages the tests use, as command:package (curl: the chapter's
# curl line, for real; mkfs.ext4: each Lambda environment's private /tmp).
APT_NEEDS := curl:curl mkfs.ext4:e2fsprogs ip:iproute2
system:
	@missing=""; for cp in $(APT_NEEDS); do c=$${cp%%:*}; p=$${cp#*:}; \
		command -v $$c >/dev/null || [ -x /sbin/$$c ] || [ -x /usr/sbin/$$c ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
		else echo "make: install$$missing (apt-get install$$missing) and run again" >&2; exit 1; fi; \
	fi

%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)

vet:
	$(GO) vet ./...

lint: $(BIN)/staticcheck
	$(BIN)/staticcheck ./...

unit:
	$(GO) test -race -timeout 20m ./...

## bench: every benchmark of the project, side by side with the peers, one table
bench: deps
	$(GO) run ./bench/cmd/benchtable

## fuzz: a short run of every fuzz target (make fuzz FUZZTIME=5m for longer)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(BIN) $(NPM_DIR)/node_modules
