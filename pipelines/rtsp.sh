#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Analyse RTSP cameras live: annotated video on screen (or JSON Lines without a display),
# bounded batching latency for a live source.
#   pipelines/rtsp.sh rtsp://camera/stream [rtsp://camera2/stream ...]
# One camera: JSON Lines on stdout. Several: one process, each camera its own chain, the
# chains sharing one detector and one pose engine (engine-name: each model loaded and warmed up
# once); without a display each camera's JSON Lines go to camera-N.jsonl in the current folder.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 rtsp://HOST/PATH [rtsp://HOST/PATH ...]" >&2; exit 2; }
# common.sh changes into the checkout; the camera files go where the script was started ($OLDPWD).
. "$(dirname "$0")/common.sh"
ANALYSIS=$LIVE_ANALYSIS
if [ $# -gt 1 ]; then
  ANALYSIS=${ANALYSIS//yolodetect /yolodetect engine-name=rtsp-det }
  ANALYSIS=${ANALYSIS//posedetect /posedetect engine-name=rtsp-pose }
fi
desc=()
i=0
for url in "$@"; do
  i=$((i + 1))
  if [ -n "${DISPLAY:-}" ]; then
    sink="videoconvert ! autovideosink sync=false name=sink$i"
  elif [ $# -eq 1 ]; then
    sink="metaexport ! fakesink name=sink"
  else
    sink="metaexport location=$OLDPWD/camera-$i.jsonl ! fakesink name=sink$i"
  fi
  desc+=(rtspsrc location="$url" latency=200 ! decodebin ! videoconvert ! $ANALYSIS ! $sink)
done
exec "${LAUNCH[@]}" "${desc[@]}"
