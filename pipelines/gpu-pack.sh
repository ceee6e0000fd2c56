#!/usr/bin/env bash
# Stages what a GPU visit needs under .device/ (git-ignored), in two parts that travel in two
# calls of the device tool (64 MiB each):
#   .device/ort  ONNX Runtime 1.31.1 CUDA (from ../shared/gpu/ort-cuda, 57 MiB): first call,
#                unpacked to /tmp/ort by gpu-env.sh and kept while the machine stays warm;
#   .device/run  relocatable GStreamer runtime, cvlaunch and model_only built here, the test
#                models and a 1080p H.264 clip: second call, which runs pipelines/gpu-visit.sh.
# `gpu-pack.sh train` stages .device/train instead (for pipelines/train-models.sh): the
# GStreamer runtime with the plugin (courtsrc renders the training data there) and the
# ultralytics wheels (with polars, ultralytics-thop, ultralytics-platform; ~63 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=$(realpath ../shared)
if [ "${1:-}" = train ]; then
  rm -rf .device/train && mkdir -p .device/train
  cp "$SHARED"/gpu/gpu-env.sh .device/train/
  cargo build --release -q -p gst-plugin-courtvision
  bash "$SHARED"/gpu/make-gst-runtime.sh .device/train/gst-runtime.tar.xz target/release/libgstcourtvision.so >/dev/null
  py="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
  for w in ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99 polars==2.1.0 polars-runtime-32==2.1.0; do
    python3 -m pip download -q --no-deps --only-binary=:all: $py -d .device/train "$w"
  done
  du -sh .device/train
  exit 0
fi
rm -rf .device && mkdir -p .device/ort .device/run/models
cp "$SHARED"/gpu/ort-cuda/* .device/ort/
cp "$SHARED"/gpu/gpu-env.sh .device/run/
cargo build --release -q --example cvlaunch -p gst-plugin-courtvision
cargo build --release -q --example model_only --example graph_bench -p courtvision-infer
cp target/release/examples/cvlaunch target/release/examples/model_only target/release/examples/graph_bench .device/run/
cp "$SHARED"/models/yolo11n-det-dyn.onnx "$SHARED"/models/yolo11n-pose-dyn.onnx .device/run/models/
bash "$SHARED"/gpu/make-gst-runtime.sh .device/run/gst-runtime.tar.xz >/dev/null
gst-launch-1.0 -q videotestsrc num-buffers=600 pattern=ball \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=60/1 \
  ! x264enc speed-preset=ultrafast bframes=0 key-int-max=60 ! video/x-h264,profile=high \
  ! h264parse ! mp4mux ! filesink location=.device/run/clip-1080p.mp4
gst-launch-1.0 -q videotestsrc num-buffers=40 pattern=ball \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=60/1 \
  ! x264enc speed-preset=ultrafast bframes=0 ! h264parse ! mp4mux ! filesink location=.device/run/clip-1080p-40.mp4
du -sh .device/ort .device/run
