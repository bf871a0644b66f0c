#!/usr/bin/env bash
# make bench: thumbd side by side with imgproxy v3.31.4 (built here from its
# Go module against the same system libvips) and libvips' own C loop, on
# loopback, bounded in time. Writes BENCHMARKS.md.
#   1. uncached transforms: 24 MP baseline + progressive JPEG, 12 MP and
#      16 MP (progressive) JPEGs, a 16 MP PNG, a 24 MP HEIC, a 12 MP WebP;
#      tile_500, tile_224, fit_1920; client concurrency 1 and 2 x cores;
#      32 byte-distinct copies of each file (no request collapsing); CPU
#      time per request of each server; requests that shared a job
#   2. peak RSS, 32 concurrent uncached 24 MP requests, thumbd vs imgproxy
#   3. per-stage breakdown of thumbd's 24 MP tile_500 and candidate
#      pipelines with SSIM (tools/stages)
#   4. cache hits and 304s vs plain net/http (tools/plainserve), access
#      logging on and off
#   5. index cost: 100k small files, `thumbd index` vs sha1sum, restart
#      with the index file, memory per indexed file
# Knobs: BENCH_SECONDS (per measurement, default 3), BENCH_OUT,
# BENCH_FILES (ids, default all: j24 j24p j12 j16p png heic webp),
# BENCH_SIZES (default "tile_500 tile_224 fit_1920"), BENCH_INDEX_FILES
# (default 100000, 0 = skip), BENCH_HIT_ROUNDS (cache-hit rounds, default
# 3), BENCH_IMGPROXY (path to a built imgproxy;
# default: build once into ~/.cache/thumbd-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-3}
OUTFILE=${BENCH_OUT:-BENCHMARKS.md}
FILES=${BENCH_FILES:-"j24 j24p j12 j16p png heic webp"}
SIZES=${BENCH_SIZES:-"tile_500 tile_224 fit_1920"}
NINDEX=${BENCH_INDEX_FILES:-100000}
IPX_VERSION=v3.31.4
CORES=$(nproc)
HI=$((CORES * 2))
HZ=$(getconf CLK_TCK)
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
T0=$(date +%s)
say() { echo "bench [$(($(date +%s) - T0))s]: $*" >&2; }

# --- build ------------------------------------------------------------------
say "building"
cc -O2 -o "$W/thumbloop" tools/thumbloop/thumbloop.c $(pkg-config --cflags --libs vips) -lpthread
for t in loadgen plainserve benchprep stages; do go build -o "$W/$t" ./tools/$t; done
go build -o "$W/thumbd" .

# imgproxy: `go install ...@version` fails on the proxy's version list, so
# download that exact module version and build it from a writable copy.
# Built once per libvips version and cached outside the repository.
IPX=${BENCH_IMGPROXY:-}
if [ -z "$IPX" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/thumbd-bench
  IPX=$cache/imgproxy-$IPX_VERSION-vips$(pkg-config --modversion vips)
  if [ ! -x "$IPX" ]; then
    say "building imgproxy $IPX_VERSION (first run only; several minutes)"
    dir=$(go mod download -json "github.com/imgproxy/imgproxy/v3@$IPX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || { echo "bench: go mod download of imgproxy failed" >&2; exit 1; }
    mkdir -p "$cache" && cp -r "$dir" "$W/ipxsrc" && chmod -R u+w "$W/ipxsrc"
    (cd "$W/ipxsrc" && nice go build -trimpath -o "$IPX.tmp" .) && mv "$IPX.tmp" "$IPX"
  fi
fi
"$IPX" version >/dev/null

# --- inputs -----------------------------------------------------------------
say "preparing inputs"
mkdir -p "$W/src"
declare -A SRC DESC
SRC[j24]=testdata/bench/sony-ilce6700-aloe.jpg
SRC[j12]=testdata/photos/test_exif_full.jpg
SRC[j16p]=testdata/photos/seeding_by_Clements_Engelhardt.jpg
SRC[heic]=testdata/bench/iphone15pro-car.heic
# Made here from the real photographs above (lossless for the progressive
# JPEG: same coefficients, progressive scans).
jpegtran -copy all -progressive -optimize -outfile "$W/src/sony-progressive.jpg" "${SRC[j24]}"
SRC[j24p]=$W/src/sony-progressive.jpg
vips copy "${SRC[j16p]}" "$W/src/seeding.png[compression=6]"
SRC[png]=$W/src/seeding.png
vips copy "${SRC[j12]}" "$W/src/iphone-xs.webp[Q=85]"
SRC[webp]=$W/src/iphone-xs.webp
desc() { # one line about a file: WxH, MP, KiB, format details
  local f=$1 w h
  w=$(vipsheader -f width "$f" 2>/dev/null); h=$(vipsheader -f height "$f" 2>/dev/null)
  printf '%sx%s, %.1f MP, %d KiB' "$w" "$h" "$(echo "$w $h" | awk '{print $1*$2/1e6}')" "$(($(stat -c %s "$f") / 1024))"
}
DESC[j24]="24 MP JPEG, baseline (Sony ILCE-6700, Q90 4:4:4: libvips does not subsample chroma at Q90)"
DESC[j24p]="24 MP JPEG, progressive (the same 4:4:4 file, jpegtran -progressive)"
DESC[j12]="12 MP JPEG, baseline (iPhone XS, 4:2:0, Display P3, orientation 6, restart markers)"
DESC[j16p]="16 MP JPEG, progressive 4:2:0 (dandelions, CC0)"
DESC[png]="16 MP PNG, RGB 8-bit (the dandelions, vips pngsave)"
DESC[heic]="24 MP HEIC (iPhone 15 Pro, 8-bit HEVC)"
DESC[webp]="12 MP WebP, lossy Q85 (the iPhone XS photo, vips webpsave)"
mkdir -p "$W/many"
declare -A COPIES
for id in $FILES; do
  COPIES[$id]=$("$W/benchprep" copies -n 32 -out "$W/many" "${SRC[$id]}" | tr '\n' ' ')
done

KEY=bench-key-0123456789abcdef0123456789abcdef
IPXKEY=$(printf 'thumbd-bench-key' | od -An -tx1 | tr -d ' \n')
IPXSALT=$(printf 'thumbd-bench-salt' | od -An -tx1 | tr -d ' \n')

# start_thumbd PORT ADMINPORT ORIGINALS CACHE_MB LOGLEVEL [ENV...] -> pid in $TPID
start_thumbd() {
  local port=$1 admin=$2 orig=$3 cache=$4 level=$5; shift 5
  env THUMBD_KEYS=$KEY THUMBD_LOG_LEVEL=$level THUMBD_CACHE_MB=$cache "$@" \
    "$W/thumbd" serve --listen 127.0.0.1:$port --admin-listen 127.0.0.1:$admin --originals "$orig" 2>>"$W/thumbd.log" &
  TPID=$!; PIDS+=("$TPID")
  for _ in $(seq 1 15000); do
    kill -0 "$TPID" 2>/dev/null || break # exited (port taken?): do not measure someone else
    curl -fsS -o /dev/null "http://127.0.0.1:$admin/readyz" 2>/dev/null && return; sleep 0.02
  done
  echo "bench: thumbd did not become ready" >&2; tail -20 "$W/thumbd.log" >&2; exit 1
}
# start_imgproxy PORT ROOT -> pid in $IPID. Settings equivalent to thumbd's
# (see the table of differences in the report). liborc is off
# (VIPS_NOVECTOR=1, libvips' own switch) unless IPX_ORC_OFF is empty: thumbd
# must run without it on this libvips (see transform/kill.go), and so would
# imgproxy under the same load, so the main table compares like with like.
IPX_ORC_OFF=1
start_imgproxy() {
  env ${IPX_ORC_OFF:+VIPS_NOVECTOR=1} IMGPROXY_BIND=127.0.0.1:$1 IMGPROXY_LOCAL_FILESYSTEM_ROOT="$2" IMGPROXY_KEY=$IPXKEY IMGPROXY_SALT=$IPXSALT \
    IMGPROXY_QUALITY=83 IMGPROXY_JPEG_PROGRESSIVE=true IMGPROXY_STRIP_METADATA=true IMGPROXY_KEEP_COPYRIGHT=false \
    IMGPROXY_STRIP_COLOR_PROFILE=true IMGPROXY_AUTO_ROTATE=true IMGPROXY_MAX_SRC_RESOLUTION=100 \
    IMGPROXY_MAX_SRC_FILE_SIZE=$((200 << 20)) IMGPROXY_TIMEOUT=30 IMGPROXY_LOG_LEVEL=warn \
    "$IPX" >>"$W/imgproxy.log" 2>&1 &
  IPID=$!; PIDS+=("$IPID")
  for _ in $(seq 1 300); do
    kill -0 "$IPID" 2>/dev/null || break
    curl -fsS -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null && return; sleep 0.1
  done
  echo "bench: imgproxy did not start" >&2; tail -20 "$W/imgproxy.log" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
sign() { THUMBD_KEYS=$KEY "$W/thumbd" sign --originals "$1" --size "$2" --base "http://127.0.0.1:$3" "${@:4}"; }
ipx_opts() {
  case $1 in
    tile_*) echo "rs:fill:${1#tile_}:${1#tile_}:1/g:ce" ;;
    fit_1920) echo "rs:fit:1920:1200:0" ;;
  esac
}
ipx_urls() { "$W/benchprep" imgproxy-urls -base "http://127.0.0.1:$1" -key "$IPXKEY" -salt "$IPXSALT" -opts "$(ipx_opts "$2")" "${@:3}"; }
box() { case $1 in tile_*) echo "${1#tile_} ${1#tile_} crop" ;; fit_1920) echo "1920 1200 fit" ;; esac; }
field() { sed -n "s/.*[ ^]$1=\([0-9.]*\).*/\1/p" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run_load PID LABEL C URLS... -> loadgen line + " cpu_ms_per_req=X"
run_load() {
  local pid=$1 label=$2 c=$3; shift 3
  local t0 t1 out n
  t0=$(cputicks "$pid")
  out=$("$W/loadgen" -label "$label" -c "$c" -warmup 1 -min 3 -n 1000000 -d "${SECS}s" "$@")
  t1=$(cputicks "$pid")
  n=$(echo "$out" | field n)
  echo "$out cpu_ms_per_req=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f", d * 1000 / hz / (n + 1) }')"
}

REPORT="$W/report.md"
{
  echo "# Benchmarks"
  echo
  echo "Figures from one \`make bench\` run ($(date -u +%F), $CORES CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
  echo "$(free -g | awk '/Mem:/{print $2}') GiB, libvips $(pkg-config --modversion vips), $(go version | awk '{print $3}'), imgproxy ${IPX_VERSION#v} built here"
  echo "against the same libvips, loopback only, ${SECS}s per measurement; the machine is shared"
  echo "with other work, so absolute rates move between runs: compare figures within a row)."
  echo
  echo "## Files"
  echo
  echo "| id | what | size |"
  echo "|---|---|---|"
  for id in $FILES; do echo "| $id | ${DESC[$id]} | $(desc "${SRC[$id]}") |"; done
  echo
  echo "Each server sees 32 byte-distinct copies of each file (a comment segment, text chunk,"
  echo "unknown WebP chunk or HEIF free box with the copy number: same pixels, different SHA-1),"
  echo "taken round-robin, so no request can share another's work."
} >"$REPORT"

# --- 1. uncached transforms -------------------------------------------------
say "uncached transforms"
start_thumbd 18081 19081 "$W/many" 0 warn
start_imgproxy 18200 "$W/many"
{
  echo
  echo "## Uncached transforms: thumbd, imgproxy, libvips in C"
  echo
  echo "- **thumbd**: full HTTP request, result cache off (\`cache_mb: 0\`), defaults otherwise"
  echo "  (workers = 2 x CPUs = $HI, \`vips_concurrency: 1\`, JPEG Q83 progressive with optimised Huffman tables)."
  echo "- **imgproxy**: full HTTP request, signed URLs (\`IMGPROXY_KEY\`/\`SALT\`), local files"
  echo "  (\`IMGPROXY_LOCAL_FILESYSTEM_ROOT\`), output forced to JPEG (\`@jpg\`), defaults otherwise"
  echo "  (workers = 2 x CPUs = $HI, libvips concurrency 1)."
  echo "- **C**: \`tools/thumbloop\`, vips_thumbnail_buffer + jpegsave Q82 strip (baseline, no"
  echo "  colour management) in a loop on the original in memory, operation cache off,"
  echo "  min(concurrency, CPUs) threads, one libvips thread each, liborc off as in both servers:"
  echo "  the plain-libvips floor."
  echo "- req/s and latency from \`tools/loadgen\` (one Go client, loopback) for ${SECS}s per cell, at least"
  echo "  3 requests; thumbd and imgproxy run back to back in alternating order, the C loop just before."
  echo "  **CPU ms/req** is the server process's user+system CPU time per request (from /proc), which"
  echo "  other load on the machine disturbs much less than req/s."
  echo
  echo "Settings given to imgproxy to match thumbd, and what still differs:"
  echo
  echo "| setting | thumbd | imgproxy |"
  echo "|---|---|---|"
  echo "| JPEG quality | 83 | \`IMGPROXY_QUALITY=83\` |"
  echo "| progressive JPEG | yes (above 150 px) | \`IMGPROXY_JPEG_PROGRESSIVE=true\` |"
  echo "| optimised Huffman tables | yes | yes (always) |"
  echo "| metadata | all removed (fail-closed check) | \`IMGPROXY_STRIP_METADATA=true\`, \`IMGPROXY_KEEP_COPYRIGHT=false\` (writes a minimal EXIF) |"
  echo "| colour | embedded profile applied, sRGB out | \`IMGPROXY_STRIP_COLOR_PROFILE=true\` (converted to sRGB) |"
  echo "| orientation | applied | \`IMGPROXY_AUTO_ROTATE=true\` |"
  echo "| tile_N | cover-crop N x N, centre | \`rs:fill:N:N:1/g:ce\` |"
  echo "| fit_1920 | inside 1920 x 1200, never upscaled | \`rs:fit:1920:1200:0\` |"
  echo "| size limits | 100 MP, 200 MiB | \`IMGPROXY_MAX_SRC_RESOLUTION=100\`, \`IMGPROXY_MAX_SRC_FILE_SIZE\` 200 MiB |"
  echo "| deadline | 30 s | \`IMGPROXY_TIMEOUT=30\` |"
  echo "| URL check | HMAC-SHA256 token + index lookup | HMAC-SHA256 signature |"
  echo "| concurrent jobs (same) | $HI (2 x CPUs, its default) | $HI (2 x CPUs, its default) |"
  echo "| differs: safety work | header pre-parse, decode-memory budget, deadline killer, output metadata check | none of these |"
  echo "| log level (same) | warn | warn |"
  echo "| liborc (run-time SIMD) | off (\`transform.Startup\`: Debian's orc 0.4.33 races when programs are freed) | off: \`VIPS_NOVECTOR=1\` (same libvips, same race; its default, on, is measured below) |"
  echo
  echo "| file | size | c | C req/s | thumbd req/s | imgproxy req/s | **thumbd / imgproxy** | thumbd / C | thumbd CPU ms/req | imgproxy CPU ms/req | **CPU ratio** (imgproxy / thumbd) | thumbd p50 / p99 ms | imgproxy p50 / p99 ms | bytes thumbd / imgproxy |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >>"$REPORT"
cell=0
: >"$W/ratios"
for id in $FILES; do
  orig=${SRC[$id]}
  for size in $SIZES; do
    read -r bw bh bmode <<<"$(box "$size")"
    turls=$(sign "$W/many" "$size" 18081 ${COPIES[$id]})
    iurls=$(ipx_urls 18200 "$size" ${COPIES[$id]})
    tb=$(curl -fsS "$(echo "$turls" | head -1)" | wc -c)
    ib=$(curl -fsS "$(echo "$iurls" | head -1)" | wc -c)
    for c in 1 "$HI"; do
      cw=$((c < CORES ? c : CORES))
      base=$(VIPS_NOVECTOR=1 VIPS_CONCURRENCY=1 "$W/thumbloop" "$orig" "$bw" "$bh" "$bmode" "$cw" "$SECS")
      if [ $((cell % 2)) -eq 0 ]; then
        ours=$(run_load "$TPID" thumbd "$c" $turls); theirs=$(run_load "$IPID" imgproxy "$c" $iurls)
      else
        theirs=$(run_load "$IPID" imgproxy "$c" $iurls); ours=$(run_load "$TPID" thumbd "$c" $turls)
      fi
      cell=$((cell + 1))
      echo "  $id $size c=$c" >&2; echo "    C        $base" >&2; echo "    thumbd   $ours" >&2; echo "    imgproxy $theirs" >&2
      tr=$(echo "$ours" | field req_per_s); ir=$(echo "$theirs" | field req_per_s); cr=$(echo "$base" | field thumbs_per_s)
      tc=$(echo "$ours" | field cpu_ms_per_req); ic=$(echo "$theirs" | field cpu_ms_per_req)
      echo "$id $size $c $(ratio "$tr" "$ir") $(ratio "$ic" "$tc")" >>"$W/ratios"
      echo "| $id | $size | $c | $cr | $tr | $ir | **$(ratio "$tr" "$ir")** | $(ratio "$tr" "$cr") | $tc | $ic | **$(ratio "$ic" "$tc")** | $(echo "$ours" | field lat_ms_p50) / $(echo "$ours" | field p99) | $(echo "$theirs" | field lat_ms_p50) / $(echo "$theirs" | field p99) | $tb / $ib |" >>"$REPORT"
      for s in "$ours" "$theirs"; do
        echo "$s" | grep -q 'errors=0 statuses=map\[200:[0-9]*\] ' || { echo "bench: non-200 answers: $s" >&2; exit 1; }
      done
    done
  done
done
# Requests that shared a job (collapsed onto another request's render):
# the distinct copies must keep this at 0.
metrics=$(curl -fsS "http://127.0.0.1:19081/metrics")
count() { echo "$metrics" | awk -v c="cache=\"$1\"" '/^thumbd_http_request_duration_seconds_count/ && index($0, "route=\"thumb\"") && index($0, c) { s += $NF } END { printf "%d", s }'; }
shared=$(count shared); missed=$(count miss); total=$(echo "$metrics" | awk '/^thumbd_http_request_duration_seconds_count/ && index($0, "route=\"thumb\"") { s += $NF } END { printf "%d", s }')
stop "$IPID"
# imgproxy at its own default, liborc on, for a few cells: what the SIMD
# paths are worth on this libvips (thumbd cannot use them safely).
IPX_ORC_OFF='' start_imgproxy 18202 "$W/many"
ORC_CELLS="j24:tile_500 j24:fit_1920 j12:fit_1920 png:fit_1920 heic:tile_224"
: >"$W/orc-rows"
for cellspec in $ORC_CELLS; do
  id=${cellspec%%:*}; size=${cellspec#*:}
  [ -n "${COPIES[$id]:-}" ] || continue # not in BENCH_FILES
  turls=$(sign "$W/many" "$size" 18081 ${COPIES[$id]})
  iurls=$(ipx_urls 18202 "$size" ${COPIES[$id]})
  ours=$(run_load "$TPID" thumbd "$HI" $turls); theirs=$(run_load "$IPID" imgproxy-orc "$HI" $iurls)
  echo "  orc on: $id $size c=$HI" >&2; echo "    thumbd   $ours" >&2; echo "    imgproxy $theirs" >&2
  tr=$(echo "$ours" | field req_per_s); ir=$(echo "$theirs" | field req_per_s)
  tc=$(echo "$ours" | field cpu_ms_per_req); ic=$(echo "$theirs" | field cpu_ms_per_req)
  echo "| $id | $size | $HI | $tr | $ir | **$(ratio "$tr" "$ir")** | $tc | $ic | **$(ratio "$ic" "$tc")** |" >>"$W/orc-rows"
done
stop "$TPID"; stop "$IPID"
{
  echo
  echo "thumbd's own metrics for these requests (admin \`/metrics\`, \`thumbd_http_request_duration_seconds_count\`):"
  echo "**$shared of $total requests shared a job** (cache=\"shared\"); $missed were renders (cache=\"miss\")."
} >>"$REPORT"
{
  echo
  echo "### imgproxy at its default: liborc on"
  echo
  echo "The same cells with imgproxy's own default (libvips' SIMD compiler on), thumbd as above"
  echo "(liborc off), measured back to back. This is what orc is worth on this libvips; thumbd turns"
  echo "it off because Debian bookworm's orc 0.4.33 corrupts the heap when two threads free compiled"
  echo "programs (\`orc_code_free\`; see transform/kill.go), a race inside liborc, not in thumbd's code."
  echo
  echo "| file | size | c | thumbd req/s | imgproxy (orc on) req/s | **thumbd / imgproxy** | thumbd CPU ms/req | imgproxy CPU ms/req | **CPU ratio** |"
  echo "|---|---|---|---|---|---|---|---|---|"
  cat "$W/orc-rows"
} >>"$REPORT"

# --- 2. peak RSS ------------------------------------------------------------
say "peak RSS"
rss_id=j24
[ -n "${COPIES[j24]:-}" ] || rss_id=${FILES%% *} # BENCH_FILES without j24
start_thumbd 18082 19082 "$W/many" 0 warn
start_imgproxy 18201 "$W/many"
turls=$(sign "$W/many" tile_500 18082 ${COPIES[$rss_id]})
iurls=$(ipx_urls 18201 tile_500 ${COPIES[$rss_id]})
tr0=$(awk '/VmRSS/{print $2}' /proc/$TPID/status); ir0=$(awk '/VmRSS/{print $2}' /proc/$IPID/status)
# thumbd's start-up scan (hash, probe, placeholder of every copy of every
# file) has its own peak: record it, then reset the high-water marks
# (clear_refs 5) so the figure below is the 32 requests' alone.
tscan=$(awk '/VmHWM/{print $2}' /proc/$TPID/status)
echo 5 >/proc/$TPID/clear_refs; echo 5 >/proc/$IPID/clear_refs
trun=$("$W/loadgen" -label rss-thumbd -warmup 0 -c 32 -n 32 -d 120s $turls)
irun=$("$W/loadgen" -label rss-imgproxy -warmup 0 -c 32 -n 32 -d 120s $iurls)
echo "  thumbd   $trun" >&2; echo "  imgproxy $irun" >&2
tpeak=$(awk '/VmHWM/{print $2}' /proc/$TPID/status); ipeak=$(awk '/VmHWM/{print $2}' /proc/$IPID/status)
stop "$TPID"; stop "$IPID"
{
  echo
  echo "## Peak memory: 32 concurrent uncached 24 MP requests"
  echo
  echo "32 clients at once, one \`tile_500\` each of the 32 distinct copies of \`$rss_id\`; fresh processes,"
  echo "thumbd's result cache off. Each server ran alone (thumbd first, then imgproxy). Both"
  echo "processes' high-water marks are reset (\`/proc/PID/clear_refs\` 5) once they are ready, so the"
  echo "peak is the requests' own."
  echo
  echo "| server | RSS before | **peak RSS (VmHWM)** | wall s for the 32 | answers |"
  echo "|---|---|---|---|---|"
  echo "| thumbd | $((tr0 / 1024)) MiB | **$((tpeak / 1024)) MiB** | $(echo "$trun" | field elapsed) | $(echo "$trun" | sed -n 's/.*statuses=//p') |"
  echo "| imgproxy | $((ir0 / 1024)) MiB | **$((ipeak / 1024)) MiB** | $(echo "$irun" | field elapsed) | $(echo "$irun" | sed -n 's/.*statuses=//p') |"
  echo
  echo "thumbd's start-up scan of the same folder ($(ls "$W/many" | wc -l) files: every copy of every file above,"
  echo "hashed, probed and given a placeholder on index_workers = $CORES) peaked at $((tscan / 1024)) MiB before the reset."
  echo "The progressive JPEGs set that peak: libjpeg keeps every DCT coefficient of a progressive"
  echo "file until its last scan whatever the scale (about 150 MiB for 24 MP), and the decode budget"
  echo "(\`max_decode_mb\`) counts exactly that, so it bounds the scan as it bounds requests."
} >>"$REPORT"

# --- 3. stages --------------------------------------------------------------
say "stages"
{
  echo
  echo "## Where thumbd's time goes (tools/stages)"
  echo
  echo "govips called in the same steps as transform/transform.go, in one process with one libvips"
  echo "thread; CPU time of the process (immune to the neighbours' load), medians. The candidates"
  echo "are whole pipelines on the same bytes, with output size and SSIM against a full-resolution"
  echo "Lanczos3 reference. Reading: see docs/perf-notes.md."
  echo
  "$W/stages" -file "${SRC[j24]}" -size tile_500 -n 11
  echo
  "$W/stages" -file "${SRC[j24]}" -size fit_1920 -n 5
  echo
  "$W/stages" -file "${SRC[j24p]}" -size tile_500 -n 5
  echo
  "$W/stages" -file "${SRC[j12]}" -size tile_500 -n 5 -variants=false
  echo
  "$W/stages" -file "${SRC[heic]}" -size tile_500 -n 3
} >>"$REPORT" 2>"$W/stages.err" || { cat "$W/stages.err" >&2; exit 1; }

# --- 4. cache hits ----------------------------------------------------------
say "cache hits"
hitdir=$W/hit
mkdir -p "$hitdir" && cp "${SRC[j12]}" "$hitdir/"
hitname=$(basename "${SRC[j12]}")
wrkrun() { wrk -t 2 -c 32 -d "$((SECS > 5 ? SECS : 5))s" --latency "$@" 2>&1; }
wrkfield() { # req/s, p50 ms, p99 ms from wrk's report
  awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2}
       function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       END { printf "%s %.2f %.2f\n", r, ms(p50), ms(p99) }'
}
# wrkcpu PID URL [wrk args] -> "req/s p50 p99 cpu_us": wrk's figures and the
# server process's user+system CPU per request (less disturbed by the
# machine's other load than req/s; wrk shares the same 2 cores).
wrkcpu() {
  local pid=$1 t0 t1 out n; shift
  t0=$(cputicks "$pid")
  out=$(wrkrun "$@")
  t1=$(cputicks "$pid")
  n=$(echo "$out" | awk '/requests in/{print $1}')
  echo "$(echo "$out" | wrkfield) $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$HZ" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print 0 }')"
}
hit_thumbd() { # LOGLEVEL -> "req/s p50 p99 cpu_us" for hits, then for 304s
  start_thumbd 18083 19083 "$hitdir" 256 "$1"
  local url etag
  url=$(sign "$hitdir" tile_500 18083 "$hitname")
  curl -fsS -o "$W/body.jpg" -D "$W/headers" "$url"
  curl -fsS -o /dev/null "$url"
  etag=$(sed -n 's/^[Ee][Tt]ag: *\(.*\)\r$/\1/p' "$W/headers")
  echo "$(wrkcpu "$TPID" "$url") $(wrkcpu "$TPID" -H "If-None-Match: $etag" "$url")"
  stop "$TPID"
}
plain() { # MODE [HEADERFILE] -> "req/s p50 p99 cpu_us"
  "$W/plainserve" -listen 127.0.0.1:18090 -file "$W/body.jpg" -log "$1" -headers "${2:-}" 2>"$W/plain-$1.log" >"$W/plain-$1.out" &
  local p=$!; PIDS+=("$p")
  for _ in $(seq 1 100); do curl -fsS -o /dev/null http://127.0.0.1:18090/x 2>/dev/null && break; sleep 0.05; done
  kill -0 "$p" || { echo "bench: plainserve did not start" >&2; exit 1; }
  wrkcpu "$p" http://127.0.0.1:18090/x
  stop "$p"
}
# median of each column over the rows on stdin
colmedian() {
  awk '{ for (i = 1; i <= NF; i++) v[i, NR] = $i; if (NF > nf) nf = NF }
       END { for (i = 1; i <= nf; i++) { n = 0; for (r = 1; r <= NR; r++) a[++n] = v[i, r] + 0
             for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] < a[x]) { t = a[x]; a[x] = a[y]; a[y] = t }
             printf "%s%s", (i > 1 ? " " : ""), (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) }
             printf "\n" }'
}
# The body and headers first (plainserve serves thumbd's exact bytes, and
# in one row thumbd's response headers too).
start_thumbd 18083 19083 "$hitdir" 256 warn
curl -fsS -o "$W/body.jpg" -D "$W/hit-headers" "$(sign "$hitdir" tile_500 18083 "$hitname")"
stop "$TPID"
# HIT_ROUNDS rounds of every configuration, interleaved, so drift in the
# machine's speed reaches each alike; each cell is the median of its rounds.
HIT_ROUNDS=${BENCH_HIT_ROUNDS:-3}
declare -A HR
for r in $(seq 1 "$HIT_ROUNDS"); do
  HR[plain]+="$(plain off)"$'\n'
  HR[sync]+="$(plain sync)"$'\n'
  HR[async]+="$(plain async)"$'\n'
  HR[hdr]+="$(plain async "$W/hit-headers")"$'\n'
  HR[on]+="$(hit_thumbd info)"$'\n'
  HR[off]+="$(hit_thumbd warn)"$'\n'
done
med() { printf '%s' "${HR[$1]}" | colmedian; }
plainv=$(med plain); psync=$(med sync); pasync=$(med async); phdr=$(med hdr); on=$(med on); off=$(med off)
col() { echo "$1" | awk -v i="$2" '{print $i}'; }
echo "  plain $plainv | sync $psync | async $pasync | hdr $phdr | thumbd log on $on | off $off" >&2
# pprof of thumbd's hit path under the same wrk load (log on, the default).
start_thumbd 18083 19083 "$hitdir" 256 info THUMBD_PPROF=true
hurl=$(sign "$hitdir" tile_500 18083 "$hitname")
curl -fsS -o /dev/null "$hurl"
wrk -t 2 -c 32 -d 8s "$hurl" >/dev/null 2>&1 &
wpid=$!
sleep 1
curl -fsS -o "$W/hit.pprof" "http://127.0.0.1:19083/debug/pprof/profile?seconds=6" || true
wait "$wpid" || true
stop "$TPID"
hitprof=$(go tool pprof -top -nodecount=12 "$W/thumbd" "$W/hit.pprof" 2>/dev/null | sed -n '/flat%/,$p')
# Share of samples under thumbd's own code (the server package's handlers,
# excluding the response writes they call), and under the write syscalls.
hitown=$(go tool pprof -top -cum -ignore='syscall|Write|Flush' -focus='thumbd/(server|accesslog|cache|signing|thumburl)' "$W/thumbd" "$W/hit.pprof" 2>/dev/null | sed -n 's/.*accounting for [^,]*, \([0-9.]*\)% of.*/\1/p' | head -1)
hitsys=$(go tool pprof -top -focus='syscall.Write|syscall.write' "$W/thumbd" "$W/hit.pprof" 2>/dev/null | sed -n 's/.*accounting for [^,]*, \([0-9.]*\)% of.*/\1/p' | head -1)
# The same path in process (no sockets): thumbd's hit against a bare
# handler sending the same headers and bytes through the same recorder
# (server/hit_bench_test.go); medians of 5 runs.
hitbench=$(go test ./server -run '^$' -bench 'BenchmarkHit' -benchmem -benchtime 20000x -count 5 2>/dev/null | grep '^BenchmarkHit' || true)
hitin() { echo "$hitbench" | awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" { print $3, $5, $7 }' | colmedian; }
hitin_thumbd=$(hitin BenchmarkHit); hitin_bare=$(hitin BenchmarkHitBare)
hitrow() { echo "| $1 | $(col "$2" "$3") | **$(ratio "$(col "$2" "$3")" "$(col "$plainv" 1)")** | $(col "$2" $(($3 + 1))) | $(col "$2" $(($3 + 2))) | $(ratio "$(col "$2" $(($3 + 2)))" "$(col "$plainv" 3)") | $(col "$2" $(($3 + 3))) |"; }
{
  echo
  echo "## Cache hits and revalidation vs plain net/http"
  echo
  echo "wrk, 2 threads, 32 connections, $((SECS > 5 ? SECS : 5))s each, one $(($(stat -c %s "$W/body.jpg") / 1024)) KiB \`tile_500\` body. Baseline: \`tools/plainserve\`, a bare"
  echo "net/http handler writing the same bytes from memory (no routing, no checks). Every row is the"
  echo "median of $HIT_ROUNDS rounds (the configurations interleaved in each round). thumbd runs its full path: routing, token HMAC, index lookup, memory"
  echo "cache, headers, metrics, and the access log (one JSON line per request to stderr, here a file)"
  echo "at \`log_level: info\` (the default) or none at \`warn\`. plainserve with \`-log sync\` writes a"
  echo "slog JSON line straight to stderr (the usual Go server); with \`-log async\`, thumbd's own line"
  echo "(\`accesslog.Line\`, the same fields) through thumbd's buffered \`accesslog\` writer;"
  echo "with \`-headers\` it also sends the header lines of thumbd's own answer (saved with curl -D:"
  echo "ETag, Cache-Control, CSP, nosniff, CORP, Vary, ...), which is what net/http charges for them."
  echo "**CPU us/req** is the server process's user+system CPU time per request (/proc), the figure"
  echo "the machine's other load disturbs least (wrk runs on the same cores)."
  echo
  echo "| what | req/s | **ratio to plain** | p50 ms | p99 ms | p99 / plain p99 | CPU us/req |"
  echo "|---|---|---|---|---|---|---|"
  hitrow "plain net/http" "$plainv" 1
  hitrow "plain + access line, sync" "$psync" 1
  hitrow "plain + access line, accesslog (async)" "$pasync" 1
  hitrow "plain + async line + thumbd's $(grep -c ':' "$W/hit-headers") response headers" "$phdr" 1
  hitrow "thumbd hit, access log on (default)" "$on" 1
  hitrow "thumbd hit, access log off" "$off" 1
  hitrow "thumbd 304, access log on" "$on" 5
  hitrow "thumbd 304, access log off" "$off" 5
  echo
  echo "plainserve's async writer dropped $(sed -n 's/dropped=//p' "$W/plain-async.out" | head -1) lines in its last run."
  echo
  echo "Where a thumbd hit's CPU goes: pprof under the same wrk load (6 s profile, log on). Samples"
  echo "in the response write system calls: ${hitsys:-n/a}%; in thumbd's own code (its handlers and"
  echo "middleware, the writes they call excluded): ${hitown:-n/a}%; the rest is net/http, the"
  echo "runtime and the kernel's side of the read (thumbd's ServeHTTP, Echo's router lookup"
  echo "inside it, counts as thumbd's own). Top functions by own time:"
  echo
  echo '```'
  echo "$hitprof"
  echo '```'
  echo
  echo "In process (\`go test ./server -bench BenchmarkHit -benchmem\`, no sockets, median of 5):"
  echo
  echo "| what | ns/op | B/op | allocs/op |"
  echo "|---|---|---|---|"
  echo "| bare handler, same headers and bytes (BenchmarkHitBare) | $(col "$hitin_bare" 1) | $(col "$hitin_bare" 2) | $(col "$hitin_bare" 3) |"
  echo "| thumbd hit (BenchmarkHit) | $(col "$hitin_thumbd" 1) | $(col "$hitin_thumbd" 2) | $(col "$hitin_thumbd" 3) |"
} >>"$REPORT"

# --- 5. index cost ----------------------------------------------------------
if [ "$NINDEX" -gt 0 ]; then
  say "index cost ($NINDEX files)"
  vips thumbnail testdata/photos/cops.jpg "$W/small.jpg[Q=80,strip]" 160
  lib=$W/lib
  t=$(date +%s.%N)
  made=$("$W/benchprep" tree -n "$NINDEX" -out "$lib" "$W/small.jpg")
  tmake=$(echo "$(date +%s.%N) $t" | awk '{printf "%.1f", $1 - $2}')
  libbytes=$(echo "$made" | field bytes)
  sync
  # Warm the page cache for both readers alike.
  find "$lib" -type f -print0 | xargs -0 cat >/dev/null
  t=$(date +%s.%N)
  find "$lib" -type f -print0 | xargs -0 -P "$CORES" -n 2000 sha1sum >/dev/null
  tsha=$(echo "$(date +%s.%N) $t" | awk '{printf "%.2f", $1 - $2}')
  t=$(date +%s.%N)
  find "$lib" -type f -print0 | xargs -0 -n 2000 sha1sum >/dev/null
  tsha1=$(echo "$(date +%s.%N) $t" | awk '{printf "%.2f", $1 - $2}')
  idxfile=$W/index.json
  t=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$W/index.rss" "$W/thumbd" index --originals "$lib" --index-file "$idxfile" >"$W/index.out" 2>"$W/index.err" ||
    { cat "$W/index.err" >&2; exit 1; }
  tidx=$(echo "$(date +%s.%N) $t" | awk '{printf "%.2f", $1 - $2}')
  # Restart with the index file: time from exec to /readyz 200.
  mkdir -p "$W/empty"
  # Memory is read at rest: after the catch-up rescan that follows the
  # start-up scan, with a forced GC (pprof's heap?gc=1), so its garbage
  # is not counted per file.
  start_thumbd 18084 19084 "$W/empty" 0 warn THUMBD_PPROF=true
  sleep 3
  curl -fsS -o /dev/null "http://127.0.0.1:19084/debug/pprof/heap?gc=1"
  rss0=$(awk '/VmRSS/{print $2}' /proc/$TPID/status)
  heap0=$(curl -fsS http://127.0.0.1:19084/metrics | awk '/^go_memstats_heap_inuse_bytes/{print $2}')
  stop "$TPID"
  t=$(date +%s.%N)
  start_thumbd 18084 19084 "$lib" 0 warn THUMBD_INDEX_FILE="$idxfile" THUMBD_PPROF=true
  tready=$(echo "$(date +%s.%N) $t" | awk '{printf "%.2f", $1 - $2}')
  sleep 3
  curl -fsS -o /dev/null "http://127.0.0.1:19084/debug/pprof/heap?gc=1"
  rss1=$(awk '/VmRSS/{print $2}' /proc/$TPID/status)
  m=$(curl -fsS http://127.0.0.1:19084/metrics)
  heap1=$(echo "$m" | awk '/^go_memstats_heap_inuse_bytes/{print $2}')
  nfiles=$(echo "$m" | awk '/^thumbd_index_files/{print $2}')
  stop "$TPID"
  # ...and without it, for comparison: every file hashed and probed again.
  t=$(date +%s.%N)
  start_thumbd 18084 19084 "$lib" 0 warn
  tcold=$(echo "$(date +%s.%N) $t" | awk '{printf "%.2f", $1 - $2}')
  stop "$TPID"
  fps() { awk -v n="$NINDEX" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
  mbs() { awk -v b="$libbytes" -v s="$1" 'BEGIN { printf "%.1f", b / s / 1048576 }'; }
  {
    echo
    echo "## Cost as the library grows: $NINDEX files"
    echo
    echo "$NINDEX distinct small JPEGs ($(($(stat -c %s "$W/small.jpg") / 1024)) KiB, 160 px, $((libbytes / 1048576)) MiB in all, 1000 per folder) made"
    echo "in ${tmake}s; page cache warm for every reader. \`thumbd index\` hashes (SHA-1) and probes"
    echo "(header: dimensions, date) each file with index_workers = $CORES; sha1sum only reads and hashes."
    echo
    echo "| what | seconds | files/s | MiB/s |"
    echo "|---|---|---|---|"
    echo "| sha1sum, $CORES processes (xargs -P $CORES) | $tsha | $(fps "$tsha") | $(mbs "$tsha") |"
    echo "| sha1sum, 1 process | $tsha1 | $(fps "$tsha1") | $(mbs "$tsha1") |"
    echo "| \`thumbd index\` (new index file) | $tidx | $(fps "$tidx") | $(mbs "$tidx") |"
    echo "| thumbd serve, no index file: exec to ready | $tcold | $(fps "$tcold") | |"
    echo "| **thumbd serve with the index file: exec to ready** | **$tready** | | |"
    echo
    echo "\`thumbd index\` / sha1sum ($CORES processes): $(ratio "$tsha" "$tidx") of the read+hash rate; peak RSS of \`thumbd index\`:"
    echo "$(($(cat "$W/index.rss") / 1024)) MiB. $(cat "$W/index.out" | sed "s|$W/||")"
    echo
    echo "Memory per indexed file (serve, at rest 3 s after ready and a forced GC, $nfiles files, against the same binary on an empty folder):"
    echo "RSS $(awk -v a="$rss1" -v b="$rss0" -v n="$NINDEX" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }') bytes/file, Go heap in use"
    echo "$(awk -v a="$heap1" -v b="$heap0" -v n="$NINDEX" 'BEGIN { printf "%.0f", (a - b) / n }') bytes/file; index file $(($(stat -c %s "$idxfile") / NINDEX)) bytes/file."
  } >>"$REPORT"
  rm -rf "$lib"
  echo "$tready" >"$W/tready"
  # The picker's results page over 1M photos (search, filter, page, 48
  # signed tiles), in process: picker.BenchmarkSearchPage.
  say "picker (1000000 photos)"
  pk=$(THUMBD_PICKER_N=1000000 go test ./picker -run '^$' -bench SearchPage -benchtime 20x -benchmem 2>&1) ||
    { echo "$pk" >&2; exit 1; }
  {
    echo
    echo "Picker, one results page over 1000000 photos (search or filter, page, 48 signed tiles;"
    echo "\`go test ./picker -bench SearchPage\` with THUMBD_PICKER_N=1000000, 20 pages each):"
    echo
    echo "| query | ms per page | allocations |"
    echo "|---|---|---|"
    echo "$pk" | awk '/^BenchmarkSearchPage\// { split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); printf "| %s | %.1f | %s |\n", a[2], $3 / 1e6, $7 }'
  } >>"$REPORT"
fi

# --- targets ----------------------------------------------------------------
say "summary"
{
  echo
  echo "## Targets (issue 15), from this run"
  echo
  echo "| target | this run | met |"
  echo "|---|---|---|"
  awk '$1 ~ /^j/ { if (min == "" || $4 < min) { min = $4; at = $1 " " $2 " c=" $3 } }
       END { printf "| JPEG uncached >= 1.15x imgproxy, every file, size, concurrency | lowest %s (%s) | %s |\n", min, at, (min >= 1.15 ? "yes" : "**no**") }' "$W/ratios"
  awk '$1 !~ /^j/ { if (min == "" || $4 < min) { min = $4; at = $1 " " $2 " c=" $3 } }
       END { if (min != "") printf "| PNG, HEIC, WebP uncached >= 1.0x imgproxy | lowest %s (%s) | %s |\n", min, at, (min >= 1.0 ? "yes" : "**no**") }' "$W/ratios"
  awk '{ if (min == "" || $5 < min) { min = $5; at = $1 " " $2 " c=" $3 } }
       END { printf "| (CPU per request, imgproxy / thumbd; > 1 = thumbd cheaper) | lowest %s (%s) | |\n", min, at }' "$W/ratios"
  r=$(ratio "$(col "$on" 1)" "$(col "$plainv" 1)")
  echo "| hits >= 0.9x plain net/http, access log on | $r | $(awk -v r="$r" 'BEGIN { print (r >= 0.9 ? "yes" : "**no**") }') |"
  echo "| (plain + async line + thumbd's headers, against plain) | $(ratio "$(col "$phdr" 1)" "$(col "$plainv" 1)"); thumbd against it: $(ratio "$(col "$on" 1)" "$(col "$phdr" 1)"); CPU us/req plain $(col "$plainv" 4), headers row $(col "$phdr" 4), thumbd $(col "$on" 4) | |"
  r=$(ratio "$(col "$on" 3)" "$(col "$plainv" 3)")
  echo "| hit p99 <= 2x plain p99 at 32 connections | $r x ($(col "$on" 3) ms vs $(col "$plainv" 3) ms) | $(awk -v r="$r" 'BEGIN { print (r <= 2 ? "yes" : "**no**") }') |"
  echo "| peak RSS, 32 x 24 MP uncached <= imgproxy's | $((tpeak / 1024)) MiB vs $((ipeak / 1024)) MiB | $([ "$tpeak" -le "$ipeak" ] && echo yes || echo '**no**') |"
  if [ -f "$W/tready" ]; then
    echo "| restart over $NINDEX indexed files < 2 s | $(cat "$W/tready") s | $(awk -v t="$(cat "$W/tready")" 'BEGIN { print (t < 2 ? "yes" : "**no**") }') |"
  fi
  echo
  echo "Reproduce: \`make bench\` (\`BENCH_SECONDS=10 make bench\` for steadier figures; this run took $(($(date +%s) - T0)) s)."
} >>"$REPORT"

cat scripts/bench-notes.md >>"$REPORT"
cp "$REPORT" "$OUTFILE"
cat "$REPORT"
