#!/usr/bin/env bash
# Analyse an RTSP camera live: annotated video on screen (or JSON Lines on stdout without a
# display), bounded batching latency for a live source.
#   pipelines/rtsp.sh rtsp://camera/stream
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 rtsp://HOST/PATH" >&2; exit 2; }
URL=$1
. "$(dirname "$0")/common.sh"
ANALYSIS=${ANALYSIS//fill=interpolate/fill=hold max-batch-latency=50}
if [ -n "${DISPLAY:-}" ]; then SINK="videoconvert ! autovideosink sync=false name=sink"; else SINK="metaexport ! fakesink name=sink"; fi
exec "$LAUNCH" --progress rtspsrc location="$URL" latency=200 ! decodebin ! videoconvert ! $ANALYSIS ! $SINK
