#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The main job: a rendered badminton rally (courtsrc, seed 9001, never used in training)
# through the whole analysis pipeline with the default models of models/:
#   courtsrc -> timingmeta -> motionskip -> yolodetect (shuttle) -> posedetect (players with
#   skeletons) -> overlayrender -> timingmeta -> metaexport -> x264enc -> MP4
# plus one JSON line per frame (detections and courtsrc's ground truth) and the timing log,
# then a summary (frames, fps, detections per label). Builds the launcher first where cargo is
# there (a fresh checkout).
#
#   pipelines/demo.sh [OUT_DIR]        (default demo-out/)
#
# COURTVISION_DET_MODEL, COURTVISION_POSE_MODEL, DEMO_FRAMES (300 = 10 s) and DEMO_SIZE
# (1280x720) override.
set -euo pipefail
OUT=$(realpath -m "${1:-demo-out}")
if command -v cargo >/dev/null; then
  (cd "$(dirname "$0")/.." && cargo build --release -q -p courtvision-bench --bin cvlaunch)
fi
. "$(dirname "$0")/common.sh"
mkdir -p "$OUT"
FRAMES=${DEMO_FRAMES:-300}
SIZE=${DEMO_SIZE:-1280x720}
"${LAUNCH[@]}" \
  courtsrc seed=9001 players=4 num-buffers="$FRAMES" \
  ! video/x-raw,width="${SIZE%x*}",height="${SIZE#*x}",framerate=30/1 \
  ! ${ANALYSIS/timingmeta mode=egress/timingmeta mode=egress log-file=$OUT/timing.jsonl} \
  ! metaexport name=sink location="$OUT/demo.jsonl" \
  ! videoconvert ! video/x-raw,format=I420 ! queue max-size-buffers=8 \
  ! x264enc speed-preset=veryfast tune=zerolatency \
  ! mp4mux ! filesink location="$OUT/demo.mp4"
echo "wrote $OUT/demo.mp4, $OUT/demo.jsonl ($(wc -l < "$OUT/demo.jsonl") frames) and $OUT/timing.jsonl"
