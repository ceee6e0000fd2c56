#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Analyse a video file: annotated MP4 (H.264) plus one JSON line of metadata per frame, with a
# progress line every second.
#   pipelines/analyze-file.sh IN OUT.mp4      (JSON Lines next to it: OUT.jsonl)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IN OUT.mp4" >&2; exit 2; }
IN=$(realpath "$1"); OUT=$(realpath -m "$2")
[ -r "$IN" ] || { echo "$0: cannot read $1" >&2; exit 1; }
. "$(dirname "$0")/common.sh"
"${LAUNCH[@]}" filesrc location="$IN" ! decodebin ! videoconvert ! $ANALYSIS \
  ! metaexport name=sink location="${OUT%.*}.jsonl" ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc speed-preset=veryfast tune=zerolatency \
  ! mp4mux ! filesink location="$OUT"
echo "wrote $OUT and ${OUT%.*}.jsonl"
