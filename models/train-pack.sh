#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Stages what models/train-models.sh needs on a GPU host without network in .device/train
# (git-ignored): a GStreamer runtime with courtsrc (it renders the training data there) and the
# ultralytics wheels with their pure-Python dependencies that the host's Python lacks (~63 MiB).
#   models/train-pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .device/train && mkdir -p .device/train
cargo build --release -q -p gst-plugin-courtsrc
bash bench/gst-runtime.sh .device/train/gst-runtime.tar.xz target/release/libgstcourtsrc.so
py="--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
for w in ultralytics==8.4.190 ultralytics-thop==2.2.3 ultralytics-platform==0.1.99 polars==2.1.0 polars-runtime-32==2.1.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: $py -d .device/train "$w"
done
du -sh .device/train
