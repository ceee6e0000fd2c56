#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Baseline (c) of the GPU benchmark: the straightforward Python loop on the same GPU doing the
same work as `nvh264dec ! yolodetect [! posedetect] ! fakesink` — cv2 reads the clip frame by
frame, ultralytics predicts each frame with torch on the GPU (letterbox, inference, NMS, results
in frame pixels), nothing drawn or written.

    python3 bench/ultralytics_loop.py CLIP.mp4 DET.pt [POSE.pt] [--half] [--frames N]

Prints one line: frames, seconds, fps (model loading and the first frame's warm-up excluded).
"""
import argparse
import os
import time

os.environ["YOLO_OFFLINE"] = "1"
import cv2  # noqa: E402
from ultralytics import YOLO  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("clip")
p.add_argument("models", nargs="+")
p.add_argument("--half", action="store_true")
p.add_argument("--frames", type=int, default=0)
a = p.parse_args()
models = [YOLO(m) for m in a.models]
cap = cv2.VideoCapture(a.clip)
ok, frame = cap.read()
if not ok:
    raise SystemExit(f"cannot read {a.clip}")
for m in models:  # warm-up: CUDA context, cuDNN, fusing
    m.predict(frame, device=0, half=a.half, verbose=False)
n, objects, start = 0, 0, time.perf_counter()
while True:
    ok, frame = cap.read()
    if not ok or (a.frames and n >= a.frames):
        break
    for m in models:
        objects += len(m.predict(frame, device=0, half=a.half, verbose=False)[0].boxes)
    n += 1
dt = time.perf_counter() - start
print(f"frames={n} seconds={dt:.3f} fps={n / dt:.1f} objects={objects}")
