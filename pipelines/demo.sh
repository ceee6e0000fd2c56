#!/usr/bin/env bash
# The README's main job: a generated clip through the whole analysis pipeline (timingmeta ->
# motionskip -> yolodetect -> posedetect -> overlayrender -> timingmeta -> metaexport -> x264enc)
# into an annotated MP4 plus one JSON line per frame, then a summary (frames, fps, detections).
#
#   pipelines/demo.sh [OUT_DIR]        (default demo-out/)
#
# Until courtvision ships its own trained default models (issue 5: courtsrc and models/) this
# runs videotestsrc and the architecture-exact test exports of ../shared/models, whose weights
# are random: their scores are ~1e-4, so the thresholds are set that low and the boxes mean
# nothing; the pipeline, batching, skipping, drawing and metadata are real.
set -euo pipefail
OUT_ARG=${1:-demo-out}
. "$(dirname "$0")/common.sh"
OUT=$(realpath -m "$OUT_ARG")
mkdir -p "$OUT"
"$LAUNCH" --progress \
  videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=854,height=480,framerate=30/1 \
  ! timingmeta mode=ingress ! motionskip mode=adaptive \
  ! yolodetect model="$DET" conf-threshold=0.0001 max-detections=5 fill=interpolate \
  ! posedetect model="$POSE" conf-threshold=0.0001 max-detections=2 fill=interpolate \
  ! overlayrender hud=true ! timingmeta mode=egress log-file="$OUT/timing.jsonl" \
  ! metaexport name=sink location="$OUT/demo.jsonl" \
  ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$OUT/demo.mp4"
echo "wrote $OUT/demo.mp4, $OUT/demo.jsonl ($(wc -l < "$OUT/demo.jsonl") frames) and $OUT/timing.jsonl"
