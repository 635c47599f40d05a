# intersect: `make demo` runs the whole pipeline on the sample video;
# `make test` runs every test. Both install what is missing first.

GO        ?= go
BIN       := bin/intersect
# Debian packages the build, the tests and the demo need.
APT_PKGS  := libopencv-dev opencv-doc pkg-config g++ chromium ca-certificates curl
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The sample video ships in Debian's opencv-doc; we check its checksum.
VTEST_SRC := /usr/share/doc/opencv-doc/examples/data/vtest.avi
VTEST     := samples/video/vtest.avi
VTEST_SHA := 45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
TEST_FLAGS ?= -count=1 -timeout 20m
ifeq ($(CI),true)
TEST_FLAGS += -v
endif

.PHONY: all deps go-check build demo test bench fuzz models vet clean

all: build

## deps: install missing Debian packages (one apt-get update first) and the sample video
deps: go-check
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory $(VTEST)

go-check:
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or newer is required (https://go.dev/dl); not found on PATH"; exit 1; }
	@$(GO) version | awk '{split($$3,v,"."); sub("go","",v[1]); if (v[1]<1 || (v[1]==1 && v[2]<26)) {print "Go 1.26 or newer is required; found " $$3; exit 1}}'

$(VTEST): $(VTEST_SRC)
	@mkdir -p $(dir $@)
	@echo "$(VTEST_SHA)  $(VTEST_SRC)" | sha256sum -c --quiet - || { echo "$(VTEST_SRC): checksum mismatch"; exit 1; }
	cp $(VTEST_SRC) $@

## build: the one binary, bin/intersect
build: go-check
	$(GO) build -o $(BIN) ./cmd/intersect

## demo: deps + build + the detector model (when it can be fetched) + the whole pipeline on the
##       sample cameras; dashboard on 127.0.0.1:8080
demo: deps build
	@sh models/fetch.sh yolox-nano || echo "YOLOX-nano not fetched: the vtest camera runs the motion detector instead"
	./$(BIN) demo

vet: go-check
	$(GO) vet ./...

## test: deps + go vet + every test (PostgreSQL tests run when INTERSECT_TEST_PG is set, always under CI=true;
##       CI also runs every fuzz target briefly)
test: deps vet
	$(GO) test $(TEST_FLAGS) ./...
ifeq ($(CI),true)
	@sh scripts/fuzz.sh 8s
endif

## models: fetch the detector models into models/ with checksum verification
models:
	@sh models/fetch.sh

## bench: the benchmarks and figures the issues name
bench: deps
	@sh scripts/bench.sh

## fuzz: every fuzz target for longer than CI does
fuzz: go-check
	@sh scripts/fuzz.sh 60s

clean:
	rm -rf bin out
