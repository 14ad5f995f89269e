# The two commands of the README: `make run` and `make test`.
# Everything the tests need is installed here, pinned.

GO          ?= go
BIN         := $(CURDIR)/bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
NPM_DIR     := testdata/npm

.PHONY: run test deps vet lint unit bench fuzz clean

## run: the main job (for now: a demonstration of the act engine)
run:
	$(GO) run ./cmd/stoa demo

## test: install what the tests need, then vet, lint and run every test with -race
test: deps vet lint unit

deps: $(NPM_DIR)/node_modules/.package-lock.json $(BIN)/staticcheck

$(NPM_DIR)/node_modules/.package-lock.json: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error

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
	@for t in $$($(GO) test -list 'Fuzz.*' . | grep ^Fuzz); do \
		$(GO) test -run XXX -fuzz "^$$t$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

clean:
	rm -rf $(BIN) $(NPM_DIR)/node_modules
