#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Soak: `courtvision live` with N rendered live matches (courtsrc://, small frames) for a while,
# /metrics read every 10 s; prints the resident memory after warm-up and at the end, its
# drift, frames, drops and reconnects per stream. Details (every sample) in OUT/soak.csv.
#
#   bench/soak.sh [STREAMS=8] [SECONDS=600] [SIZE=320x180] [OUT=bench-out/soak]
#
# Extra `courtvision live` options through SOAK_ARGS (e.g. "--device cuda").
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-8}; SECS=${2:-600}; SIZE=${3:-320x180}; OUT=${4:-bench-out/soak}
BIN=${COURTVISION:-target/release/courtvision}
[ -x "$BIN" ] || cargo build --release -q -p courtvision
mkdir -p "$OUT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
src=()
for i in $(seq "$N"); do src+=("s$i=courtsrc://?seed=$((100 + i))&players=4&width=${SIZE%x*}&height=${SIZE#*x}"); done
"$BIN" live "${src[@]}" --out "$OUT/streams" --http "127.0.0.1:$PORT" --duration "$SECS" \
  --log warn ${SOAK_ARGS:-} > "$OUT/summary.txt" 2> "$OUT/stderr.txt" &
pid=$!
echo "t_s,rss_bytes,cpu_s,frames,drops" > "$OUT/soak.csv"
start=$(date +%s)
while kill -0 $pid 2>/dev/null; do
  sleep 10
  m=$(curl -s "127.0.0.1:$PORT/metrics" || true)
  [ -n "$m" ] || continue
  echo "$m" | awk -v t=$(( $(date +%s) - start )) '
    /^process_resident_memory_bytes/ {rss=$2} /^process_cpu_seconds_total/ {cpu=$2}
    /^courtvision_stream_frames_total/ {f+=$2} /^courtvision_stream_drops_total/ {d+=$2}
    END {printf "%d,%d,%s,%d,%d\n", t, rss, cpu, f, d}' >> "$OUT/soak.csv"
done
wait $pid || true
python3 - "$OUT/soak.csv" "$SECS" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
warm = [r for r in rows if int(r["t_s"]) >= 60] or rows
rss = [int(r["rss_bytes"]) / 2**20 for r in warm]
first, last, peak = rss[0], rss[-1], max(rss)
print(f"soak {sys.argv[2]} s: RSS after warm-up {first:.0f} MiB, end {last:.0f} MiB, "
      f"peak {peak:.0f} MiB, drift {100 * (last - first) / first:+.1f}% "
      f"(max {100 * (peak - first) / first:+.1f}%), frames {rows[-1]['frames']}, "
      f"drops {rows[-1]['drops']}")
PY
cat "$OUT/summary.txt"
