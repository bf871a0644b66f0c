#!/usr/bin/env bash
# Installs what thumbd needs to build, run and test on Debian (bookworm):
# libvips (with its HEIF/WebP/TIFF/GIF loaders), pkg-config and a C compiler
# for cgo, and vipsthumbnail for the benchmark baseline; extra Debian
# packages may be named as arguments (make test adds hugo, jekyll, chromium,
# nginx, file and ffmpeg for the end-to-end tests, libjpeg-turbo-progs
# (cjpeg, jpegtran) for the progressive-JPEG tests, WordPress, PHP and
# MariaDB for the oEmbed test, and podman, runc, slirp4netns and mmdebstrap
# for the container image test). libheif and its codec plugins then come
# from bookworm-backports (scripts/heif-backports.sh):
# bookworm's libheif 1.15.1 cannot read current iPhone HEIC ("Metadata not
# correctly assigned to image") nor decode Sony's 10-bit HEIF; 1.19.7 reads
# both under the same libvips 8.14. Idempotent: it only calls
# apt-get when something is missing, and waits for the dpkg lock (a fresh
# machine may still be running apt).
set -euo pipefail

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libvips-dev libvips-tools pkg-config gcc libc6-dev ${THUMBD_EXTRA_PACKAGES:-} "$@"; do
  have_pkg "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq &&
       $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      break
    fi
    [ "$attempt" -eq 3 ] && { echo "deps: apt-get failed" >&2; exit 1; }
    sleep 5
  done
fi

bash "$(dirname "$0")/heif-backports.sh"

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not on PATH (expected /usr/local/go/bin); install Go 1.26+ first" >&2
  exit 1
fi
