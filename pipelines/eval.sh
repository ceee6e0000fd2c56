#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Accuracy of the default models (or others) on courtsrc clips from seeds never used in training
# (training 1000-1239, validation 5000-5019), against courtsrc's ground truth, through yolodetect
# and posedetect: mAP50 per class and PCK@0.1, printed as a table (bench/src/bin/cveval.rs has the rules).
#
#   pipelines/eval.sh [cveval options]     e.g. --seeds 9000-9049 --frames 300 --every 10
#                                                --det models/courtvision-det-fp16.onnx --check
# Defaults: seeds 9000-9019, 150 frames each at 1280x720, every 5th evaluated (600 frames),
# about 1.5 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p courtvision-bench --bin cveval
exec target/release/cveval "$@"
