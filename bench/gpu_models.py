#!/usr/bin/env python3
"""Exports the models of the GPU benchmark on the GPU host (ultralytics wheels + torch there):
yolo11n det and pose, yolo11s det, each fp32 and fp16 (half=True on the GPU), ONNX opset of
ultralytics' default, dynamic batch and size, random weights (architecture-exact: speed, not
accuracy). Also saves the torch checkpoints the Python baseline (ultralytics_loop.py) loads,
so both sides run the same architectures.

    python3 pipelines/gpu_models.py OUT_DIR
"""
import os
import shutil
import sys

os.environ["YOLO_OFFLINE"] = "1"
from ultralytics import YOLO  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for yaml, name in (("yolo11n.yaml", "yolo11n-det"), ("yolo11n-pose.yaml", "yolo11n-pose"), ("yolo11s.yaml", "yolo11s-det")):
    pt = os.path.join(out, f"{name}.pt")
    YOLO(yaml).save(pt)
    for half, suffix in ((False, ""), (True, "-fp16")):
        # Each export writes NAME.onnx beside the checkpoint: move it away before the next.
        path = YOLO(pt).export(format="onnx", dynamic=True, half=half, device=0, simplify=False, imgsz=640)
        shutil.move(path, os.path.join(out, f"{name}{suffix}.onnx.part"))
    for suffix in ("", "-fp16"):
        os.replace(os.path.join(out, f"{name}{suffix}.onnx.part"), os.path.join(out, f"{name}{suffix}.onnx"))
        print("wrote", f"{name}{suffix}.onnx", flush=True)
