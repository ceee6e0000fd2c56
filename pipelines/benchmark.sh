#!/usr/bin/env bash
# CPU benchmark of yolodetect against ONNX Runtime's model-only rate, measured in the same run.
#
#   pipelines/benchmark.sh [MODEL] [FRAMES] [ROUNDS]
#
# 1. Encodes a non-square 854x480 H.264 clip (FRAMES frames, default 300) under bench-out/.
# 2. Per round (default 3), interleaved so that machine noise hits both sides alike:
#    model only: Python onnxruntime session.run, preallocated 640x640 batch-1 input (and
#    640x384, the size rectangular inference runs this clip at);
#    pipeline: filesrc ! decodebin ! videoconvert ! yolodetect MODEL [batch-size] ! fakesink,
#    with the default batch size (4) and batch-size=1.
# 3. Prints a table of medians. Pipeline rates are steady rates from the first frame out.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-../shared/models/yolo11n-det-dyn.onnx}
FRAMES=${2:-300}
ROUNDS=${3:-3}
OUT=bench-out
mkdir -p "$OUT"
cargo build --release --example cvlaunch -q
LAUNCH=target/release/examples/cvlaunch
CLIP=$OUT/clip-854x480-$FRAMES.mp4
if [ ! -s "$CLIP" ]; then
  gst-launch-1.0 -q videotestsrc num-buffers="$FRAMES" pattern=ball \
    ! video/x-raw,width=854,height=480,framerate=30/1 ! x264enc speed-preset=fast \
    ! mp4mux ! filesink location="$CLIP"
fi

fps() { sed -n 's/.*steady_fps=\([0-9.]*\).*/\1/p; s/.*input=.* fps=\([0-9.]*\)$/\1/p'; }
LOG=$OUT/benchmark.log
: > "$LOG"
for r in $(seq "$ROUNDS"); do
  for size in 640x640 640x384; do
    line=$(python3 pipelines/ort_model_only.py "$MODEL" --size $size --batch 1 --runs 60)
    echo "round $r model-only $size: $line" | tee -a "$LOG"
    echo "mo_$size $(fps <<<"$line")" >> "$OUT/rates.$$"
  done
  for b in default 1; do
    prop=""; [ "$b" = default ] || prop="batch-size=$b"
    line=$($LAUNCH filesrc location="$CLIP" ! decodebin ! videoconvert \
      ! yolodetect model="$MODEL" $prop ! fakesink name=sink)
    echo "round $r pipeline batch $b: $line" | tee -a "$LOG"
    echo "pl_$b $(fps <<<"$line")" >> "$OUT/rates.$$"
  done
done

python3 - "$OUT/rates.$$" "$(nproc)" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rates.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in rates.items()}
base = m["mo_640x640"]
print()
print(f"| median of {len(rates['mo_640x640'])} rounds, {sys.argv[2]}-core CPU | frames/s | vs model-only 640x640 |")
print("| --- | --- | --- |")
print(f"| onnxruntime session.run, 640x640, batch 1 (model only) | {base:.1f} | 1.00x |")
print(f"| onnxruntime session.run, 640x384, batch 1 (model only) | {m['mo_640x384']:.1f} | {m['mo_640x384']/base:.2f}x |")
print(f"| pipeline, 854x480 H.264 -> yolodetect (default batch-size 4) | {m['pl_default']:.1f} | {m['pl_default']/base:.2f}x |")
print(f"| pipeline, 854x480 H.264 -> yolodetect batch-size=1 | {m['pl_1']:.1f} | {m['pl_1']/base:.2f}x |")
PY
rm -f "$OUT/rates.$$"
