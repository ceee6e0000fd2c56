#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Makes the int8 variants of the default models for the CPU: static QDQ quantization with
ONNX Runtime's quantization tools, calibrated on courtsrc frames from the training seeds.

    python3 models/quantize.py                 (needs a release build for courtsrc, and
                                                setup.sh's onnxruntime and numpy)

Writes models/courtvision-det-int8.onnx and models/courtvision-pose-int8.onnx.
CALIBRATION_CACHE=FILE.npy keeps the letterboxed calibration frames for a later run.

Weights are int8 per output channel and activations uint8 per tensor (the U8S8 kernels of
ONNX Runtime's CPU provider), calibrated by min/max over the frames. The stem (the first three
blocks, at the highest resolutions, where a shuttle is a few pixels), the head's decoding
(the distribution focal loss, the anchors, the sigmoid of the scores and the concatenation of
boxes, scores and keypoints into one output) and the head's last convolutions, whose outputs
are the boxes', scores' and keypoints' logits, stay in float: one scale for box coordinates in
pixels and scores in 0..1 would lose the scores.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("courtvision-det", "courtvision-pose")
# The stem, whose first layers see the shuttle as a few pixels: quantized, the detector found
# the shuttle at mAP50 0.52 instead of 0.79.
STEM = ("/model.0/", "/model.1/", "/model.2/")
# Training seeds (1000-1239): never the evaluation's.
SEEDS = range(1000, 1240, 15)
FRAMES, EVERY = 200, 40
W, H = 1280, 720


def frames():
    """courtsrc frames as RGB arrays: EVERY-th of the first FRAMES of each seed."""
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, "target", "release"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            raw = os.path.join(tmp, f"{seed}.rgb")
            subprocess.run(
                ["gst-launch-1.0", "-q", "courtsrc", f"seed={seed}", "ground-truth=false",
                 f"num-buffers={FRAMES}", "!", f"video/x-raw,width={W},height={H},framerate=30/1",
                 "!", "videoconvert", "!", "video/x-raw,format=RGB", "!", "filesink",
                 f"location={raw}"], check=True, env=env)
            data = np.fromfile(raw, np.uint8).reshape(-1, H, W, 3)
            out.extend(data[::EVERY])
    return out


def letterbox(rgb):
    """As the elements do for 1280x720 into a 640 model: half size (2x2 mean), padded with grey
    114 to a multiple of 32 (640x384), RGB planes in 0..1."""
    half = rgb.reshape(H // 2, 2, W // 2, 2, 3).mean(axis=(1, 3))
    th = -(-half.shape[0] // 32) * 32
    top = (th - half.shape[0]) // 2
    img = np.full((th, half.shape[1], 3), 114.0, np.float32)
    img[top:top + half.shape[0]] = half
    return (img / 255.0).transpose(2, 0, 1)[None].astype(np.float32)


class Frames(CalibrationDataReader):
    def __init__(self, name, images):
        self.name, self.images = name, iter(images)

    def get_next(self):
        img = next(self.images, None)
        return None if img is None else {self.name: img}


def kept_in_float(model):
    """The stem, the head's decoding and its last convolutions (see the module's text)."""
    keep = []
    for n in model.graph.node:
        if n.name.startswith(STEM):
            keep.append(n.name)
            continue
        if not n.name.startswith("/model.23/"):
            continue
        branch = any(f"/{b}." in n.name for b in ("cv2", "cv3", "cv4"))
        last_conv = n.op_type == "Conv" and n.name.endswith(".2/Conv")
        if not branch or last_conv:
            keep.append(n.name)
    return keep


def main():
    cache = os.environ.get("CALIBRATION_CACHE")
    if cache and os.path.exists(cache):
        images = list(np.load(cache))
    else:
        images = [letterbox(f) for f in frames()]
        if cache:
            np.save(cache, np.stack(images))
    print(f"calibration: {len(images)} frames from seeds {SEEDS.start}-{SEEDS.stop - 1}")
    for name in MODELS:
        src = os.path.join(ROOT, "models", f"{name}.onnx")
        dst = os.path.join(ROOT, "models", f"{name}-int8.onnx")
        model = onnx.load(src)
        quantize_static(
            src, dst, Frames(model.graph.input[0].name, images),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept_in_float(model))
        print(f"{dst}: {os.path.getsize(dst) / 1e6:.1f} MB (fp32 {os.path.getsize(src) / 1e6:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
