#!/usr/bin/env bash
# make bench: thumbd against baselines built and run in this same
# invocation, on loopback, bounded in time. Writes BENCHMARKS.md.
#   uncached tile_500 / fit_1920  vs  tools/thumbloop (libvips' plain
#       vips_thumbnail_buffer + jpegsave Q82 strip in a C loop, 2 threads,
#       operation cache off, same file)
#   cache hits and 304s           vs  tools/plainserve (net/http, same bytes
#       from memory)
#   peak RSS with 32 concurrent uncached requests, result cache off
# Knobs: BENCH_SECONDS (per measurement, default 8), BENCH_FILE, BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-8}
FILE=${BENCH_FILE:-testdata/photos/test_exif_full.jpg}
OUTFILE=${BENCH_OUT:-BENCHMARKS.md}
CORES=$(nproc)
HI=$((CORES * 2))
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

echo "bench: building" >&2
cc -O2 -o "$W/thumbloop" tools/thumbloop/thumbloop.c $(pkg-config --cflags --libs vips) -lpthread
go build -o "$W/loadgen" ./tools/loadgen
go build -o "$W/plainserve" ./tools/plainserve
go build -o "$W/thumbd" .

KEY=bench-key-0123456789abcdef0123456789abcdef
name=$(basename "$FILE")
mkdir -p "$W/orig" && cp "$FILE" "$W/orig/"

# urls are read from $urls unquoted on purpose (one per word).
# start_thumbd PORT ADMINPORT ORIGINALS CACHE_MB -> pid in $TPID
start_thumbd() {
  THUMBD_KEYS=$KEY THUMBD_LOG_LEVEL=warn THUMBD_CACHE_MB=$4 \
    "$W/thumbd" serve --listen 127.0.0.1:$1 --admin-listen 127.0.0.1:$2 --originals "$3" 2>>"$W/thumbd.log" &
  TPID=$!; PIDS+=("$TPID")
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$2/readyz" 2>/dev/null && return; sleep 0.1; done
  echo "bench: thumbd did not become ready" >&2; cat "$W/thumbd.log" >&2; exit 1
}
sign() { THUMBD_KEYS=$KEY "$W/thumbd" sign --originals "$1" --size "$2" --base "http://127.0.0.1:$3" "${@:4}"; }
field() { sed -n "s/.*[ ^]$1=\([0-9.]*\).*/\1/p" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

REPORT="$W/report.md"
{
  echo "# Benchmarks"
  echo
  echo "Latest figures from \`make bench\` ($(date -u +%F), $CORES CPUs, $(free -g | awk '/Mem:/{print $2}') GiB,"
  echo "libvips $(pkg-config --modversion vips), $(go version | awk '{print $3}'), loopback only, ${SECS}s per measurement)."
  echo "Every ratio compares thumbd with a baseline run in the same invocation on the same"
  echo "machine, so machine noise hits both; absolute numbers move with load, ratios much less."
  echo
  echo "Source file: \`$name\`, $(vipsheader -f width "$FILE")x$(vipsheader -f height "$FILE"), $(du -k "$FILE" | cut -f1) KiB."
  echo
} >"$REPORT"

# 1. Uncached transforms vs the C loop.
echo "bench: uncached transforms" >&2
mkdir -p "$W/many"
for i in $(seq -w 1 32); do
  # Same pixels, different bytes (a trailing byte after EOI), so 32
  # different hashes: no request collapsing, no cache, every request a
  # full transform.
  { cat "$FILE"; printf '%s' "$i"; } >"$W/many/p$i.jpg"
done
start_thumbd 18081 19081 "$W/many" 0
{
  echo "## Uncached transforms vs libvips in C"
  echo
  echo "Baseline: \`tools/thumbloop\` — vips_thumbnail_buffer + jpegsave (Q 82, strip) in a C loop,"
  echo "2 threads, operation cache off, original already in memory. thumbd: full HTTP request,"
  echo "result cache off (\`cache_mb: 0\`) and 32 copies of the file with different hashes taken"
  echo "round-robin (no request collapsing), so every request reads a file and runs libvips;"
  echo "its JPEGs are Q 83, progressive, optimized Huffman tables."
  echo
  echo "The C loop runs right before and right after each thumbd measurement; its figures are"
  echo "the mean of the two."
  echo
  echo "| size | client concurrency | thumbd req/s | C req/s | **ratio** | thumbd p50 ms | thumbd p99 ms | C p50 ms | C p99 ms |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >>"$REPORT"
for spec in "tile_500 500 500 crop" "fit_1920 1920 1200 fit"; do
  set -- $spec
  urls=$(sign "$W/many" "$1" 18081 "$W/many"/p*.jpg)
  for c in 1 "$HI"; do
    # Baseline before and after, averaged: this machine's speed drifts, and
    # bracketing keeps the drift out of the ratio.
    b1=$(VIPS_CONCURRENCY=1 "$W/thumbloop" "$FILE" "$2" "$3" "$4" 2 "$SECS")
    ours=$("$W/loadgen" -label "$1" -c "$c" -n 1000000 -d "${SECS}s" $urls)
    b2=$(VIPS_CONCURRENCY=1 "$W/thumbloop" "$FILE" "$2" "$3" "$4" 2 "$SECS")
    echo "  C        $b1" >&2; echo "  thumbd   $ours" >&2; echo "  C        $b2" >&2
    avg() { awk -v a="$(echo "$b1" | field "$1")" -v b="$(echo "$b2" | field "$1")" 'BEGIN { printf "%.2f", (a + b) / 2 }'; }
    bt=$(avg thumbs_per_s)
    echo "| $1 | $c | $(echo "$ours" | field req_per_s) | $bt | **$(ratio "$(echo "$ours" | field req_per_s)" "$bt")** | $(echo "$ours" | field lat_ms_p50) | $(echo "$ours" | field p99) | $(avg lat_ms_p50) | $(avg p99) |" >>"$REPORT"
  done
done
kill "$TPID"; wait "$TPID" 2>/dev/null || true

# 2. Peak RSS: 32 concurrent uncached requests for 32 different photos.
echo "bench: peak RSS" >&2
start_thumbd 18082 19082 "$W/many" 0
urls=$(sign "$W/many" tile_500 18082 "$W/many"/p*.jpg)
rss_before=$(awk '/VmRSS/{print $2}' /proc/$TPID/status)
rssrun=$("$W/loadgen" -label rss -warmup 0 -c 32 -n 64 -d "$((SECS * 4))s" $urls)
echo "  thumbd   $rssrun" >&2
peak=$(awk '/VmHWM/{print $2}' /proc/$TPID/status)
kill "$TPID"; wait "$TPID" 2>/dev/null || true
{
  echo
  echo "## Memory under load"
  echo
  echo "32 concurrent uncached \`tile_500\` requests for 32 different copies of the file"
  echo "(result cache off, default workers = $CORES, queue 64): $(echo "$rssrun" | sed -n 's/.*statuses=\(.*\)/\1/p') ."
  echo
  echo "| RSS before | **peak RSS (VmHWM)** |"
  echo "|---|---|"
  echo "| $((rss_before / 1024)) MiB | **$((peak / 1024)) MiB** |"
} >>"$REPORT"

# 3. Cache hits and 304s vs plain net/http with the same bytes.
echo "bench: cache hits" >&2
start_thumbd 18083 19083 "$W/orig" 256
hit=$(sign "$W/orig" tile_500 18083 "$name")
curl -fsS -o "$W/body.jpg" -D "$W/headers" "$hit"
etag=$(sed -n 's/^[Ee][Tt]ag: *\(.*\)\r$/\1/p' "$W/headers")
"$W/plainserve" -listen 127.0.0.1:18090 -file "$W/body.jpg" & PIDS+=("$!")
sleep 0.5
# wrk (C, event loop) as the client: a Go client would take most of the
# two cores from the servers it measures.
wrkrun() { wrk -t 2 -c 32 -d "${SECS}s" --latency "$@" 2>&1; }
wrkfield() { # req/s, p50 ms, p99 ms from wrk's report
  awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2}
       function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       END { printf "%s %.2f %.2f\n", r, ms(p50), ms(p99) }'
}
p1=$(wrkrun http://127.0.0.1:18090/x | wrkfield)
ours=$(wrkrun "$hit" | wrkfield)
reval=$(wrkrun -H "If-None-Match: $etag" "$hit" | wrkfield)
p2=$(wrkrun http://127.0.0.1:18090/x | wrkfield)
# The plain server before and after thumbd, averaged (see above).
plain=$(echo "$p1 $p2" | awk '{ printf "%.2f %.2f %.2f", ($1 + $4) / 2, ($2 + $5) / 2, ($3 + $6) / 2 }')
echo "  plain    $plain" >&2; echo "  thumbd   $ours" >&2; echo "  304      $reval" >&2
col() { echo "$1" | awk -v i="$2" '{print $i}'; }
{
  echo
  echo "## Cache hits and revalidation vs plain net/http"
  echo
  echo "wrk, 2 threads, 32 connections (the plain server measured before and after thumbd, averaged), one $(du -k "$W/body.jpg" | cut -f1) KiB \`tile_500\` body. Baseline: \`tools/plainserve\`, a bare"
  echo "net/http handler writing the same bytes from memory (no routing, no headers, no logs)."
  echo "thumbd runs its full path: routing, token check, index lookup, memory cache, access log, metrics."
  echo
  echo "| what | req/s | **ratio to plain** | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|"
  echo "| plain net/http | $(col "$plain" 1) | 1.00 | $(col "$plain" 2) | $(col "$plain" 3) |"
  echo "| thumbd cache hit (200) | $(col "$ours" 1) | **$(ratio "$(col "$ours" 1)" "$(col "$plain" 1)")** | $(col "$ours" 2) | $(col "$ours" 3) |"
  echo "| thumbd revalidation (304) | $(col "$reval" 1) | $(ratio "$(col "$reval" 1)" "$(col "$plain" 1)") | $(col "$reval" 2) | $(col "$reval" 3) |"
  echo
  echo "Reproduce: \`make bench\` (or \`BENCH_SECONDS=20 make bench\`). The load generators"
  echo "(\`tools/loadgen\` for transforms, wrk for hits) share the 2 cores with the server under test,"
  echo "for thumbd and the baselines alike."
} >>"$REPORT"

cat scripts/bench-notes.md >>"$REPORT"
cp "$REPORT" "$OUTFILE"
cat "$REPORT"
