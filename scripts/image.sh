#!/usr/bin/env bash
# Builds the Dockerfile into a container image with podman: `make image`
# (which then tests it), or scripts/image.sh [TAG] (default
# localhost/thumbd:dev).
#
# BASE=registry: a plain build that pulls the Dockerfile's base images.
# BASE=local (the default; no registry is needed): the base images are made
# here first, unless podman already has them, and tagged with the names the
# Dockerfile's FROM lines use, so the Dockerfile stays as it is for
# everyone with a registry:
#   debian:bookworm-slim   `mmdebstrap --variant=minbase bookworm`, from
#                          this machine's Debian sources (on bookworm), so the
#                          image gets the same libvips and codecs as a
#                          `make build` binary here
#   golang:1.26-bookworm   that, plus what the official image has for cgo
#                          (gcc, libc6-dev, make, pkg-config), the Go
#                          toolchain installed here (`go env GOROOT`) and
#                          this machine's CA certificates (the ones it
#                          reaches the Go module proxy with)
# Builds reach the Go module proxy and Debian through the host network.
#
# Podman runs with runc (crun refuses a cgroup v1 layout), with cgroupfs and
# file events where systemd is not running, and with rlimits a process
# without CAP_SYS_RESOURCE may set (rootful podman asks for more). Images go
# to podman's storage, or to the one CONTAINERS_STORAGE_CONF names (the
# tests use a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/thumbd:dev}
base=${BASE:-local}

for tool in podman runc; do
  command -v "$tool" >/dev/null || { echo "image: $tool is not installed (make image installs it)" >&2; exit 1; }
done
flags=(--runtime runc)
[ -d /run/systemd/system ] || flags+=(--cgroup-manager cgroupfs --events-backend file)
pm() { podman "${flags[@]}" "$@"; }
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

# The Dockerfile's base images, as podman resolves their short names.
mapfile -t froms < <(awk 'toupper($1) == "FROM" { print $2 }' Dockerfile)
[ ${#froms[@]} -eq 2 ] || { echo "image: expected two FROM lines in Dockerfile, got ${#froms[@]}" >&2; exit 1; }
qualify() { case "$1" in */*/*) echo "$1" ;; */*) echo "docker.io/$1" ;; *) echo "docker.io/library/$1" ;; esac; }
build_ref=$(qualify "${froms[0]}")
run_ref=$(qualify "${froms[1]}")

cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT
pull=--pull=missing
if [ "$base" = local ]; then
  pull=--pull=never
  if ! pm image exists "$run_ref"; then
    command -v mmdebstrap >/dev/null || { echo "image: mmdebstrap is not installed (make image installs it)" >&2; exit 1; }
    sources=()
    if grep -qs '^VERSION_CODENAME=bookworm$' /etc/os-release; then
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] && sources+=("$f")
      done
    fi
    echo "image: making $run_ref with mmdebstrap" >&2
    rootfs=$(mktemp --suffix=.tar)
    cleanup+=("$rootfs")
    mmdebstrap --variant=minbase --quiet bookworm "$rootfs" "${sources[@]}"
    pm import --change 'CMD ["bash"]' "$rootfs" "$run_ref" >/dev/null
  fi
  if ! pm image exists "$build_ref"; then
    echo "image: making $build_ref from $run_ref and $(go version)" >&2
    ctx=$(mktemp -d)
    cleanup+=("$ctx")
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-certificates.crt"
    cat >"$ctx/Containerfile" <<EOF
FROM $run_ref
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev make pkg-config \\
 && rm -rf /var/lib/apt/lists/*
COPY host-ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN cp -a /host-go /usr/local/go
ENV GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
EOF
    pm build --network host --pull=never "${limits[@]}" -v "$(go env GOROOT):/host-go:ro" -t "$build_ref" "$ctx"
  fi
fi

# --format docker keeps the HEALTHCHECK (OCI image configs have none).
pm build --network host "$pull" --format docker "${limits[@]}" -t "$tag" .
echo "image: built $tag" >&2
