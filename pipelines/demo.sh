#!/usr/bin/env bash
# The README's main job: a generated badminton rally (courtsrc, seed 9001, never used in
# training) through the whole analysis pipeline with the default models of models/:
#   courtsrc -> timingmeta -> motionskip -> yolodetect (shuttle) -> posedetect (players with
#   skeletons) -> overlayrender -> timingmeta -> metaexport -> x264enc -> MP4
# plus one JSON line per frame (detections and courtsrc's ground truth) and the timing log,
# then a summary (frames, fps, detections per label).
#
#   pipelines/demo.sh [OUT_DIR]        (default demo-out/)
#
# The detector finds players too; here posedetect's boxes (with keypoints) stand for the players
# and yolodetect keeps only the shuttle, so each player is drawn once. COURTVISION_DET_MODEL,
# COURTVISION_POSE_MODEL, DEMO_FRAMES (300 = 10 s) and DEMO_SIZE (1280x720) override.
set -euo pipefail
OUT_ARG=${1:-demo-out}
. "$(dirname "$0")/common.sh"
OUT=$(realpath -m "$OUT_ARG")
mkdir -p "$OUT"
FRAMES=${DEMO_FRAMES:-300}
SIZE=${DEMO_SIZE:-1280x720}
"$LAUNCH" --progress \
  courtsrc seed=9001 players=4 num-buffers="$FRAMES" \
  ! video/x-raw,width="${SIZE%x*}",height="${SIZE#*x}",framerate=30/1 \
  ! timingmeta mode=ingress ! motionskip mode=adaptive ! queue max-size-buffers=8 \
  ! yolodetect model="$DET" classes=shuttle fill=interpolate \
  ! posedetect model="$POSE" fill=interpolate \
  ! overlayrender hud=true ! timingmeta mode=egress log-file="$OUT/timing.jsonl" \
  ! metaexport name=sink location="$OUT/demo.jsonl" \
  ! videoconvert ! queue max-size-buffers=8 ! x264enc speed-preset=veryfast \
  ! mp4mux ! filesink location="$OUT/demo.mp4"
echo "wrote $OUT/demo.mp4, $OUT/demo.jsonl ($(wc -l < "$OUT/demo.jsonl") frames) and $OUT/timing.jsonl"
