#!/usr/bin/env bash
# The README's main job: a generated clip through yolodetect and posedetect into an MP4 plus one
# JSON line of metadata per frame, then a summary (frames, frames/s, detections).
#
#   pipelines/demo.sh [OUT_DIR]        (default demo-out/)
#
# Until courtvision ships its own trained default models (issue 5) this runs the architecture-
# exact test exports of ../shared/models, whose weights are random: their scores are ~1e-4, so
# the thresholds are set that low and the boxes mean nothing; the pipeline, batching and the
# metadata are real.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-demo-out}
MODELS=${COURTVISION_MODELS:-../shared/models}
mkdir -p "$OUT"
cargo build --release --example cvlaunch -q
target/release/examples/cvlaunch --json "$OUT/demo.jsonl" \
  videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=854,height=480,framerate=30/1 \
  ! yolodetect model="$MODELS/yolo11n-det-dyn.onnx" conf-threshold=0.0001 max-detections=5 \
  ! posedetect model="$MODELS/yolo11n-pose-dyn.onnx" conf-threshold=0.0001 max-detections=2 \
  ! tee name=t ! queue ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$OUT/demo.mp4" \
  t. ! queue ! fakesink name=sink
echo "wrote $OUT/demo.mp4 and $OUT/demo.jsonl ($(wc -l < "$OUT/demo.jsonl") frames)"
