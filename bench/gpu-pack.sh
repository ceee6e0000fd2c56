#!/usr/bin/env bash
# Stages what a GPU visit needs under .device/ (git-ignored), in parts that travel in separate
# calls of the device tool (64 MiB each, the checkout included):
#   .device/ort1, .device/ort2  ONNX Runtime 1.31.1 CUDA (from ../shared/gpu/ort-cuda), in two
#                halves, unpacked to /tmp/ort by pipelines/gpu-ort.sh and kept while warm;
#   .device/run  relocatable GStreamer runtime, cvlaunch, model_only, graph_bench and
#                letterbox_check built here,
#                the ultralytics wheels and a 1080p H.264 clip: the calls running
#                pipelines/gpu-visit.sh.
# `OLD=REV gpu-pack.sh` also builds cvlaunch and model_only at commit REV as .device/run/cvlaunch-old
# and model_only-old (sections ab, hf, tk: this build against that one) in place of the 720p clip,
# graph_bench and letterbox_check (the call's 64 MiB).
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
rm -rf .device/ort .device/ort1 .device/ort2 .device/run && mkdir -p .device/ort1 .device/ort2 .device/run
# The checkout itself travels with every call (~34 MB with models/), so ONNX Runtime CUDA (60 MB)
# goes in two calls: the CUDA provider split in two, the second half with the rest.
split -b 30000000 -d "$SHARED"/gpu/ort-cuda/libonnxruntime_providers_cuda.so.xz .device/cudaxz.part
mv .device/cudaxz.part00 .device/ort1/ && mv .device/cudaxz.part01 .device/ort2/
cp "$SHARED"/gpu/ort-cuda/libonnxruntime.so.1.31.1.xz "$SHARED"/gpu/ort-cuda/libonnxruntime_providers_shared.so \
  "$SHARED"/gpu/gpu-env.sh .device/ort2/
cp "$SHARED"/gpu/gpu-env.sh .device/run/
cargo build --release -q --example cvlaunch -p gst-plugin-courtvision
cargo build --release -q --example model_only --example graph_bench --example letterbox_check -p courtvision-infer
cp target/release/examples/cvlaunch target/release/examples/model_only target/release/examples/graph_bench \
  target/release/examples/letterbox_check .device/run/
# openh264dec: H.264 decoded on the CPU beside NVDEC (section hx).
bash "$SHARED"/gpu/make-gst-runtime.sh .device/run/gst-runtime.tar.xz \
  /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstopenh264.so >/dev/null
# GStreamer's core tracers (not in that runtime) for section dt's latency tracer.
mkdir -p .device/run/tracers
cp /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstcoretracers.so .device/run/tracers/
py="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
for w in ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99; do
  python3 -m pip download -q --no-deps --only-binary=:all: $py -d .device/run "$w"
done
gst-launch-1.0 -q videotestsrc num-buffers=600 pattern=ball \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=60/1 \
  ! x264enc speed-preset=ultrafast bframes=0 key-int-max=60 ! video/x-h264,profile=high \
  ! h264parse ! mp4mux ! filesink location=.device/run/clip-1080p.mp4
# The same, a minute long, for several streams at once (each runs long past its start-up).
gst-launch-1.0 -q videotestsrc num-buffers=3600 pattern=ball \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=60/1 \
  ! x264enc speed-preset=ultrafast bframes=0 key-int-max=60 ! video/x-h264,profile=high \
  ! h264parse ! mp4mux ! filesink location=.device/run/clip-1080p-long.mp4
# The same as HEVC (section hx: NVDEC's rate for H.265 against H.264).
gst-launch-1.0 -q videotestsrc num-buffers=3600 pattern=ball \
  ! video/x-raw,format=I420,width=1920,height=1080,framerate=60/1 \
  ! x265enc speed-preset=ultrafast key-int-max=60 option-string=bframes=0 ! video/x-h265,profile=main \
  ! h265parse ! mp4mux ! filesink location=.device/run/clip-1080p-long-hevc.mp4
if [ -n "${OLD:-}" ]; then
  # The older build, from a worktree sharing this target directory (only the crates rebuild).
  tree=$(mktemp -d)/old
  git worktree add -q "$tree" "$OLD"
  main=$PWD
  (cd "$tree" && CARGO_TARGET_DIR="$main/target" cargo build --release -q --example cvlaunch -p gst-plugin-courtvision &&
    CARGO_TARGET_DIR="$main/target" cargo build --release -q --example model_only -p courtvision-infer) ||
    { git worktree remove --force "$tree"; exit 1; }
  cp target/release/examples/cvlaunch .device/run/cvlaunch-old
  cp target/release/examples/model_only .device/run/model_only-old
  git worktree remove --force "$tree"
  cargo build --release -q --example cvlaunch -p gst-plugin-courtvision
  cargo build --release -q --example model_only -p courtvision-infer
  rm -f .device/run/graph_bench .device/run/letterbox_check
else
# The same at 720p (section dc: does decoding scale with the pixels of a frame?).
gst-launch-1.0 -q videotestsrc num-buffers=3600 pattern=ball \
  ! video/x-raw,format=I420,width=1280,height=720,framerate=60/1 \
  ! x264enc speed-preset=ultrafast bframes=0 key-int-max=60 ! video/x-h264,profile=high \
  ! h264parse ! mp4mux ! filesink location=.device/run/clip-720p-long.mp4
fi
# The same detections with frames in CUDA memory and in host memory (section u): a courtsrc
# match (the default models find its players) as 1080p H.264.
cargo build --release -q -p gst-plugin-courtvision
GST_PLUGIN_PATH=target/release gst-launch-1.0 -q courtsrc seed=9004 players=4 num-buffers=120 \
  ! video/x-raw,width=1920,height=1080,framerate=60/1 ! videoconvert ! video/x-raw,format=I420 \
  ! x264enc speed-preset=ultrafast bframes=0 qp-max=24 ! video/x-h264,profile=high \
  ! h264parse ! mp4mux ! filesink location=.device/run/match-1080p.mp4
du -sh .device/ort1 .device/ort2 .device/run
# On the device, back to back (a machine stays warm ~30 s):
#   carry .device/ort1: mkdir -p /tmp/ortx && cp .device/ort1/* /tmp/ortx/
#   carry .device/ort2: cp .device/ort2/* /tmp/ortx/ && bash pipelines/gpu-ort.sh
#   carry .device/run:  bash pipelines/gpu-visit.sh setup a      (then: setup b c check, u)
