#!/usr/bin/env bash
# Installs libheif 1.19 and its decoder/encoder plugins from Debian's
# bookworm-backports (on later Debian releases, from the release itself).
#
# Why: bookworm's libheif 1.15.1 cannot read the HEIC photos of current
# iPhones ("Metadata not correctly assigned to image", iPhone 15 Pro with a
# gain map) and fails to decode Sony's 10-bit HEIF ("bad image dimensions on
# decode"); libheif 1.19.7 from bookworm-backports reads both under the same
# libvips 8.14 from bookworm (libvips loads libheif through its stable C API).
#
# From 1.17 on libheif loads its codecs as plugins, so they are named here:
#   libheif-plugin-libde265  HEVC decoding (HEIC, HEIF)
#   libheif-plugin-dav1d     AV1 decoding (AVIF)
#   libheif-plugin-aomenc    AV1 encoding (thumbd serves AVIF thumbnails)
# libheif-dev (and libheif-examples) are upgraded with libheif1 when present,
# since they require the same version; --dev installs libheif-dev anyway.
#
# Idempotent: it does nothing when libheif1 >= 1.19 and the plugins are
# installed. Run it after libvips is installed from the release (bookworm's
# libvips-dev pulls libheif-dev 1.15.1, which this then upgrades).
set -euo pipefail

min_version=1.19
pkgs=(libheif1 libheif-plugin-libde265 libheif-plugin-dav1d libheif-plugin-aomenc)

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
[ "${1:-}" = "--dev" ] && pkgs+=(libheif-dev)
# --test: what the tests make fixtures with: heif-enc and the HEVC encoder.
[ "${1:-}" = "--test" ] && pkgs+=(libheif-examples libheif-plugin-x265)
for p in libheif-dev libheif-examples; do
  if have_pkg "$p" && [[ " ${pkgs[*]} " != *" $p "* ]]; then pkgs+=("$p"); fi
done

up_to_date=1
for p in "${pkgs[@]}"; do
  v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
  if ! have_pkg "$p" || ! dpkg --compare-versions "$v" ge "$min_version"; then
    up_to_date=0
  fi
done
[ "$up_to_date" -eq 1 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
target=()

if [ "$codename" = "bookworm" ]; then
  target=(-t bookworm-backports)
  # Add bookworm-backports if no source names it, on the same mirror as
  # the release's own entry (one-line .list or deb822 .sources).
  if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
    mirror=$(grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      sed -E 's/\[[^]]*\]//' | awk '$3 == "bookworm" { print $2; exit }' || true)
    if [ -z "$mirror" ]; then
      mirror=$(awk 'BEGIN { RS = ""; FS = "\n" }
        {
          types = ""; suites = ""; uris = ""
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^Types:/) types = $i
            if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
            if ($i ~ /^URIs:/) { uris = substr($i, 6); sub(/^[ \t]+/, "", uris); split(uris, u, /[ \t]+/) }
          }
          if (types ~ /[ \t]deb([ \t]|$)/ && suites ~ /[ \t]bookworm[ \t]/ && uris != "") { print u[1]; exit }
        }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    fi
    if [ -z "$mirror" ]; then
      echo "heif-backports: no apt source for bookworm found to add bookworm-backports beside" >&2
      exit 1
    fi
    echo "heif-backports: adding bookworm-backports ($mirror) to apt sources" >&2
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" |
      $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
  fi
fi

echo "heif-backports: installing ${pkgs[*]} ${target[*]}" >&2
for attempt in 1 2 3; do
  if $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq &&
     $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${target[@]}" "${pkgs[@]}" >/dev/null; then
    break
  fi
  [ "$attempt" -eq 3 ] && { echo "heif-backports: apt-get failed" >&2; exit 1; }
  sleep 5
done

v=$(dpkg-query -W -f='${Version}' libheif1)
if ! dpkg --compare-versions "$v" ge "$min_version"; then
  echo "heif-backports: libheif1 is $v after the install, want >= $min_version" >&2
  exit 1
fi
