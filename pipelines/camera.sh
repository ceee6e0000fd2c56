#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Analyse a USB camera live (V4L2): annotated video on screen, or JSON Lines without a display.
#   pipelines/camera.sh [/dev/video0]
set -euo pipefail
DEV=${1:-/dev/video0}
[ -e "$DEV" ] || { echo "$0: no camera at $DEV" >&2; exit 1; }
. "$(dirname "$0")/common.sh"
ANALYSIS=$LIVE_ANALYSIS
if [ -n "${DISPLAY:-}" ]; then SINK="videoconvert ! autovideosink sync=false name=sink"; else SINK="metaexport ! fakesink name=sink"; fi
exec "${LAUNCH[@]}" v4l2src device="$DEV" ! decodebin ! videoconvert ! $ANALYSIS ! $SINK
