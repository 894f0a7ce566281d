# dreamrank: the two quick-start commands are `make run` and `make test`.
# Both install what is missing first (ops/setup/deps.sh).

GO      ?= go
BIN     := bin/dreamrank
DATA    ?= data
export PATH := $(PATH):/usr/local/go/bin

.PHONY: setup build run test vet fmt bench-fidelity clean

setup:
	@ops/setup/deps.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/dreamrank

# The main job on the embedded default. Until the server lands it runs the
# PushT robot with the scripted expert and writes an episode and its video.
run: build
	./$(BIN) run --data $(DATA)

vet: setup
	$(GO) vet ./...

# Tests use tiny configurations; long training and benchmarks are commands.
test: setup vet
	$(GO) test -timeout 18m ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin out
