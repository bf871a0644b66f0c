# thumbd — the two commands a newcomer needs:
#   make run    install what is missing, build, serve the sample photos
#   make test   install what is missing, build, run every test
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
BENCHTIME ?= 3s
FUZZTIME ?= 20s

.PHONY: run test deps build vet bench fuzz soak clean replicas image

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build -trimpath -o thumbd .

run: build
	THUMBD_LOG_FORMAT=text ./thumbd serve --dev

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

test: deps vet
	@bash scripts/deps.sh hugo jekyll chromium nginx file ffmpeg libimage-exiftool-perl webp libjpeg-turbo-progs nodejs $$(command -v npm >/dev/null || echo npm) wordpress php-cli php-mysql mariadb-server $(IMAGE_DEPS)
	@bash scripts/heif-backports.sh --test
	$(GO) test -count=1 -race -timeout 45m ./...

bench: build
	@THUMBD_EXTRA_PACKAGES="wrk libjpeg-turbo-progs time" bash scripts/deps.sh
	bash scripts/bench.sh

fuzz: deps
	$(GO) test ./thumburl -run '^$$' -fuzz 'FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./thumburl -run '^$$' -fuzz FuzzParseText -fuzztime $(FUZZTIME)
	$(GO) test ./xmp -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./accesslog -run '^$$' -fuzz FuzzLine -fuzztime $(FUZZTIME)
	$(GO) test ./signing -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME)
	$(GO) test ./transform -run '^$$' -fuzz FuzzTransform -fuzztime $(FUZZTIME)
	$(GO) test ./metastrip -run '^$$' -fuzz FuzzJPEG -fuzztime $(FUZZTIME)
	$(GO) test ./jpegscan -run '^$$' -fuzz FuzzEighth -fuzztime $(FUZZTIME)
	$(GO) test ./metastrip -run '^$$' -fuzz FuzzPNG -fuzztime $(FUZZTIME)
	$(GO) test ./metastrip -run '^$$' -fuzz FuzzWebP -fuzztime $(FUZZTIME)
	$(GO) test ./metastrip -run '^$$' -fuzz FuzzCheck -fuzztime $(FUZZTIME)
	$(GO) test ./metastrip -run '^$$' -fuzz FuzzHEIF -fuzztime $(FUZZTIME)
	$(GO) test ./rawpreview -run '^$$' -fuzz FuzzPreview -fuzztime $(FUZZTIME)
	$(GO) test ./video -run '^$$' -fuzz FuzzProbe -fuzztime $(FUZZTIME)
	$(GO) test ./video -run '^$$' -fuzz FuzzScrub -fuzztime $(FUZZTIME)
	$(GO) test ./imagehdr -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./placeholder -run '^$$' -fuzz FuzzDecodeThumbHash -fuzztime $(FUZZTIME)
	$(GO) test ./placeholder -run '^$$' -fuzz FuzzDecodeBlurHash -fuzztime $(FUZZTIME)
	$(GO) test ./placeholder -run '^$$' -fuzz FuzzEncode -fuzztime $(FUZZTIME)

clean:
	rm -f thumbd

# Container image tools: podman with runc (crun refuses cgroup v1 layouts),
# slirp4netns for a published port, mmdebstrap for base images made here.
IMAGE_DEPS := podman runc slirp4netns mmdebstrap

# Three replicas behind nginx, each restarted in turn under load; writes
# the figures into RELIABILITY.md's "Replicas and rolling restarts".
replicas: deps
	@bash scripts/deps.sh nginx
	REPLICAS_REPORT=$(CURDIR)/RELIABILITY.md $(GO) test ./e2e -run '^TestReplicasRollingRestart$$' -count=1 -v -timeout 10m

# Builds the Dockerfile with podman into localhost/thumbd:dev (base images
# made locally when there is no registry; BASE=registry pulls them), then
# runs the container test against it.
IMAGE ?= localhost/thumbd:dev
image: deps
	@bash scripts/deps.sh $(IMAGE_DEPS)
	bash scripts/image.sh $(IMAGE)
	THUMBD_IMAGE=$(IMAGE) $(GO) test ./e2e -run '^TestContainerImage$$' -count=1 -v -timeout 10m

SOAK ?= 3m
soak: build
	$(GO) run ./tools/soak -bin ./thumbd -d $(SOAK) -c 32 -out RELIABILITY.md
