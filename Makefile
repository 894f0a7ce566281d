# dreamrank: the two quick-start commands are `make run` and `make test`.
# Both install what is missing first (ops/setup/deps.sh).

GO      ?= go
BIN     := bin/dreamrank
DATA    ?= data
export PATH := $(PATH):/usr/local/go/bin

.PHONY: setup setup-test build run demo test test-kernels vet fmt clean example-torch wm-data wm-train wm-arm-logs wm-train-slots wm-eval bench bench-peer bench-ranking

setup:
	@ops/setup/deps.sh

# What the tests need on top (tests install nothing themselves): chromium for
# the browser test of the report UI, python3-numpy for the Python replica of
# the world-model protocol (ops/setup/deps.sh lists why each is needed).
setup-test:
	@ops/setup/deps.sh --test

build: setup
	$(GO) build -o $(BIN) ./cmd/dreamrank

# The main job on the embedded default: the evaluation server with an
# embedded NATS + JetStream under $(DATA)/jetstream, the job API and local
# workers using the committed checkpoints. In a second terminal:
#   bin/dreamrank submit examples/ranking.yaml --watch
# It runs 2 simulated robots and, on a fresh install, a first nightly report
# at once, sized so it is on the UI within minutes on 2 cores (a real
# deployment keeps serve's larger nightly defaults). The report's world-model
# fidelity is measured at start on the checkpoint itself (held-out human
# demonstrations, imported into $(DATA) when missing; seconds) and cached by
# the checkpoint's identity, so it cannot belong to another checkpoint.
run: build
	./$(BIN) serve --data $(DATA) --sim-robots 2 --nightly-real 4 --nightly-safety 8 --nightly-safety-real 4

# One PushT episode with the scripted expert, its videos and the world
# model's imagined version beside it (what `make run` did before the server).
demo: build
	./$(BIN) run --data $(DATA)

vet: setup
	$(GO) vet ./...

# Tests use tiny configurations; long training and benchmarks are commands.
test: setup-test vet
	$(GO) test -timeout 18m ./...

# The suite again on other OpenBLAS kernel sets: no test may depend on the
# kernels this CPU selects. -count=1 because the test cache does not see a
# variable only C code reads. Then the oneDNN packages on older instruction
# sets (oneDNN picks other kernels and layouts there).
KERNELS ?= Haswell Sandybridge
DNNL_ISAS ?= AVX2 SSE41
DNNL_PKGS := ./foundation/dnnl ./worldmodel/latent ./policy/flow
test-kernels: setup-test
	@for k in $(KERNELS); do echo "== OPENBLAS_CORETYPE=$$k"; \
	  OPENBLAS_CORETYPE=$$k $(GO) test -count=1 -timeout 18m ./... || exit 1; done
	@for i in $(DNNL_ISAS); do echo "== ONEDNN_MAX_CPU_ISA=$$i"; \
	  ONEDNN_MAX_CPU_ISA=$$i $(GO) test -count=1 $(DNNL_PKGS) || exit 1; done

# The PyTorch world-model example (examples/python/torch_worldmodel_server.py;
# Debian's python3-torch, installed here by the setup script; the tests do
# not need it): served on a free
# port, checked by the model contract kit and measured by `bench wm` through
# the websocket backend.
example-torch: build
	@ops/setup/deps.sh python3-torch python3-msgpack python3-websockets
	@examples/python/run_example.sh torch_worldmodel_server.py

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin out

# The world model's data and training (minutes to tens of minutes; not tests).
# wm-data reproduces the store checkpoints/pusht-wm was trained on.
WM_EXPERT_MIX := 5:normal:100 5:fast:100 5:slow:100 4:normal:100 3:fast:100 3:normal:100 2:normal:150 1:normal:150 1:slow:100

wm-data: build
	./$(BIN) dataset import --data $(DATA)
	seed=1000; for mix in $(WM_EXPERT_MIX); do \
	  q=$${mix%%:*}; rest=$${mix#*:}; speed=$${rest%%:*}; n=$${rest#*:}; \
	  ./$(BIN) expert generate --quality $$q --speed $$speed -n $$n --first-seed $$seed --data $(DATA) || exit 1; \
	  seed=$$((seed + n)); \
	done

wm-train: build
	./$(BIN) wm train --data $(DATA) --out $(DATA)/wm/pusht-wm

# The robot logs the generic world model (backend slots) also trains on:
# every zoo arm in the simulator, 16 episodes each on seeds 400000+1000*i
# (never the test seeds 100000..100049), minutes. wm-train-slots then trains
# checkpoints/pusht-slots on $(DATA) (make wm-data's store plus these logs).
ARM_LOG_EPISODES ?= 16
wm-arm-logs: build
	i=0; for arm in $$(./$(BIN) policy list | awk 'NR>1 && NF>3 {print $$1}' | grep -v '^backends'); do \
	  ./$(BIN) policy eval $$arm --first-seed $$((400000 + 1000*i)) --seeds $(ARM_LOG_EPISODES) --record $(DATA) --json > /dev/null || exit 1; \
	  i=$$((i+1)); \
	done

wm-train-slots: build
	./$(BIN) wm train-slots --data $(DATA) --out $(DATA)/wm/pusht-slots

wm-eval: build
	./$(BIN) wm eval --data $(DATA) --json

bench: build
	./$(BIN) bench wm --json
	./$(BIN) bench wm --backend builtin --json

# The same networks in PyTorch CPU beside Go in the same run (issue 21):
# installs Debian's python3-torch through the setup script (tests never do),
# checks the outputs agree and times both sides alternately.
bench-peer: build
	@ops/setup/deps.sh python3-torch python3-numpy python3-msgpack
	./$(BIN) bench wm --backend builtin --opt checkpoint=checkpoints/pusht-wm --peer torch --json
	./$(BIN) bench wm --backend slots --peer torch --json
	./$(BIN) bench policy flow --opt checkpoint=checkpoints/pusht-flow --peer torch --json
	./$(BIN) bench policy pose-relative-r1 --peer torch --json
	./$(BIN) bench policy pose-relative-r1-foresight --peer torch --json

# The headline agreement benchmark: every zoo arm over the 50 test seeds in
# the simulator and in the default world model, the generic slots model
# (about 20-30 min).
bench-ranking: build
	mkdir -p results
	./$(BIN) bench ranking --json > results/bench_ranking.json
