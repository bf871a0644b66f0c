#!/usr/bin/env bash
# Measures thumbd against libvips' own thumbnail loop (tools/thumbloop, the
# "physical limit": no HTTP, no Go) on the same file, in the same run, and
# prints ratios. Loopback only, bounded by BENCH_SECONDS per measurement.
#   make bench                 # defaults
#   BENCH_SECONDS=10 BENCH_FILE=testdata/photos/test_exif_full.jpg make bench
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-8}
FILE=${BENCH_FILE:-testdata/photos/seeding_by_Clements_Engelhardt.jpg}
PORT=${BENCH_PORT:-18089}
OUT=$(mktemp -d)
trap 'kill $(cat $OUT/pid 2>/dev/null) 2>/dev/null || true; rm -rf $OUT' EXIT

cc -O2 -o "$OUT/thumbloop" tools/thumbloop/thumbloop.c $(pkg-config --cflags --libs vips) -lpthread
go build -o "$OUT/loadgen" ./tools/loadgen
go build -o "$OUT/thumbd" .

ORIG="$OUT/originals"; mkdir -p "$ORIG"; cp "$FILE" "$ORIG/"
KEY=bench-key-0123456789abcdef0123456789abcdef
# Result cache off (when present) so every request runs libvips.
THUMBD_KEYS=$KEY THUMBD_LOG_LEVEL=warn THUMBD_CACHE_MB=0 THUMBD_VIPS_CONCURRENCY=1 \
  "$OUT/thumbd" serve --listen 127.0.0.1:$PORT --originals "$ORIG" 2>"$OUT/log" & echo $! >"$OUT/pid"
for i in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:$PORT/healthz 2>/dev/null && break; sleep 0.1; done

name=$(basename "$FILE")
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, libvips $(pkg-config --modversion vips), file $name ($(vipsheader -f width "$FILE")x$(vipsheader -f height "$FILE"))"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

for spec in "tile_500 500 500 crop" "fit_1920 1920 1200 fit"; do
  set -- $spec
  size=$1
  url=$(THUMBD_KEYS=$KEY "$OUT/thumbd" sign --originals "$ORIG" --size "$size" --base http://127.0.0.1:$PORT "$name")
  for c in 1 2; do
    base=$(VIPS_CONCURRENCY=1 "$OUT/thumbloop" "$FILE" "$2" "$3" "$4" "$c" "$SECS")
    # Distinct query strings defeat no cache in thumbd; they are ignored, and
    # the result cache is off, so each request is a full transform.
    ours=$("$OUT/loadgen" -label "thumbd-$size" -c "$c" -n 100000 -d "${SECS}s" "$url")
    b50=$(echo "$base" | field lat_ms_p50); o50=$(echo "$ours" | field lat_ms_p50)
    bt=$(echo "$base" | field thumbs_per_s); ot=$(echo "$ours" | field req_per_s)
    echo "baseline  $base"
    echo "thumbd    $ours"
    echo "RESULT size=$size concurrency=$c p50_ms thumbloop=$b50 thumbd=$o50 ratio=$(ratio "$o50" "$b50")  throughput thumbloop=$bt thumbd=$ot ratio=$(ratio "$ot" "$bt")"
  done
done
