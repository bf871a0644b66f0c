# syntax=docker/dockerfile:1
# Build with libvips-dev, run on slim Debian with only the runtime libraries:
# the same Debian packages as scripts/deps.sh (libvips-dev to build,
# libvips42 at run time), the same Go toolchain and `go build`. Change them
# together. `make image` (and `make test`) builds this file with podman and
# tests the image (e2e/image_test.go); without a registry, scripts/image.sh
# makes the two base images below on the machine under these same names.
#
# libheif comes from bookworm-backports (scripts/heif-backports.sh, in both
# stages): bookworm's libheif 1.15.1 cannot read current iPhone HEIC
# ("Metadata not correctly assigned to image") and fails on Sony's 10-bit
# HEIF; 1.19.7 reads them under the same libvips 8.14.
FROM golang:1.26-bookworm AS build
COPY scripts/heif-backports.sh /usr/local/sbin/heif-backports.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips-dev \
 && bash /usr/local/sbin/heif-backports.sh --dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/thumbd/thumbd/cli.Version=${VERSION}" -o /out/thumbd .

FROM debian:bookworm-slim
# libvips42 pulls its loaders (libjpeg, libpng, libwebp, libtiff, libheif, libgif).
# jemalloc keeps libvips' many small allocations from fragmenting glibc's
# arenas, which is where image servers' RSS creeps (imgproxy#116, govips#318).
# libheif 1.19 and its codec plugins from bookworm-backports: see above.
COPY scripts/heif-backports.sh /usr/local/sbin/heif-backports.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvips42 libjemalloc2 \
 && bash /usr/local/sbin/heif-backports.sh \
 && rm -rf /var/lib/apt/lists/* /usr/local/sbin/heif-backports.sh
ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
    THUMBD_LISTEN=0.0.0.0:8080 \
    THUMBD_ORIGINALS=/photos \
    THUMBD_LOG_FORMAT=json
COPY --from=build /out/thumbd /usr/local/bin/thumbd
# Nothing is written at run time: the root filesystem may be read-only and
# the originals are mounted read-only (docker run -v /photos:/photos:ro).
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["thumbd", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["thumbd"]
CMD ["serve"]
