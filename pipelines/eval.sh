#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Accuracy of the default models (or others) on courtsrc clips from seeds never used in training
# (training 1000-1239, validation 5000-5019), against courtsrc's ground truth, through yolodetect
# and posedetect: mAP50 per class and PCK@0.1; then tracking through objecttrack and
# shuttletrack (players' MOTA, IDF1, HOTA, switches; the shuttle's F1); then the court through
# courtcalib (found, keypoint and court-plane errors, cost; none on video without a court),
# printed as tables (bench/src/bin/cveval.rs has the rules).
#
#   pipelines/eval.sh [cveval options]     e.g. --seeds 9000-9049 --frames 300 --every 10
#                                                --det models/courtvision-det-fp16.onnx --check
# Defaults: seeds 9000-9019, 150 frames each at 1280x720, every 5th evaluated (600 frames);
# tracking: badminton doubles seeds 9100-9103 and netball (14 players) 9200-9201, 300 frames
# each, every frame and with motionskip; court: badminton seeds 9300-9309 and netball 9400-9403
# (varied cameras, a cut every 2.5 s; --court-badminton, --court-netball, --court-frames), 150
# frames each; about 9 minutes on 2 CPU cores. `--check` enforces the detection and court
# targets, `--check-tracking` the tracking targets too.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p courtvision-bench --bin cveval
exec target/release/cveval "$@"
