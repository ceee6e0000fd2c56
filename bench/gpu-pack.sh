#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Stages what bench/gpu.sh needs on a GPU host that has no GStreamer, no Rust and no network,
# under .device/ (git-ignored), in parts small enough to travel one at a time:
#   .device/ort1, .device/ort2  ONNX Runtime for CUDA, from ORT_CUDA_DIR (a folder holding
#                libonnxruntime.so.1.31.1.xz, libonnxruntime_providers_cuda.so.xz and
#                libonnxruntime_providers_shared.so), split in two halves;
#   .device/cmd  the courtvision command and the GStreamer runtime (bench/gpu.sh command);
#   .device/run  a relocatable GStreamer runtime with NVDEC (nvh264dec, nvh265dec), cvlaunch
#                and model_only built here, and two 1080p clips of a rendered match (courtsrc:
#                players, shuttle, sensor noise, lighting drift) at camera bitrates: H.264 at
#                6 Mbit/s and HEVC at 4 Mbit/s, 16 s at 30 frames/s.
#
#   ORT_CUDA_DIR=/path/to/ort-cuda bench/gpu-pack.sh
#
# On the GPU host, from the checkout: `bench/gpu.sh unpack1` (with .device/ort1 there), then
# `bench/gpu.sh unpack2` (with .device/ort2), then `bench/gpu.sh all` (with .device/run).
# A host with GStreamer (gst-plugins-bad's nvcodec) and onnxruntime-gpu installed needs none
# of this: build there and run `bench/gpu.sh all`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ORT_CUDA_DIR:?set ORT_CUDA_DIR to the folder with ONNX Runtime for CUDA}"
rm -rf .device/ort1 .device/ort2 .device/run .device/cmd
mkdir -p .device/ort1 .device/ort2 .device/run
split -b 30000000 -d "$ORT_CUDA_DIR"/libonnxruntime_providers_cuda.so.xz .device/cudaxz.part
mv .device/cudaxz.part00 .device/ort1/ && mv .device/cudaxz.part01 .device/ort2/
cp "$ORT_CUDA_DIR"/libonnxruntime.so.1.31.1.xz "$ORT_CUDA_DIR"/libonnxruntime_providers_shared.so .device/ort2/

mkdir -p .device/cmd
cargo build --release -q -p courtvision-bench --bin cvlaunch --bin model_only
cargo build --release -q -p courtvision
cp target/release/courtvision .device/cmd/ && strip .device/cmd/courtvision
cp target/release/cvlaunch target/release/model_only .device/run/
strip .device/run/cvlaunch .device/run/model_only
bash bench/gst-runtime.sh .device/run/gst-runtime.tar.xz target/release/courtvision
cp .device/run/gst-runtime.tar.xz .device/cmd/

cargo build --release -q -p gst-plugin-courtsrc
match="courtsrc seed=9005 players=4 num-buffers=480 ! video/x-raw,width=1920,height=1080,framerate=30/1
  ! videoconvert ! video/x-raw,format=I420"
GST_PLUGIN_PATH=target/release gst-launch-1.0 -q $match \
  ! x264enc speed-preset=faster bitrate=6000 bframes=0 key-int-max=60 \
  ! video/x-h264,profile=high,stream-format=byte-stream ! h264parse ! filesink location=.device/run/match-1080p.h264
GST_PLUGIN_PATH=target/release gst-launch-1.0 -q $match \
  ! x265enc speed-preset=faster bitrate=4000 key-int-max=60 option-string=bframes=0 \
  ! video/x-h265,profile=main,stream-format=byte-stream ! h265parse ! filesink location=.device/run/match-1080p.h265
du -sh .device/ort1 .device/ort2 .device/run
