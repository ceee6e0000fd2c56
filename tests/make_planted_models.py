#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Tiny ONNX models with planted outputs, in the exact layouts and metadata of ultralytics
exports, so end-to-end tests can assert exact boxes and keypoints on the buffers.

Every model emits a constant tensor, except one value per frame: the score of the first
object equals the mean of that frame's input tensor. A test that feeds frames of known grey
levels can so tell which frame's result landed on which buffer (order inside a batch).

    python3 tests/make_planted_models.py tests/models
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "models")
COCO17 = 17


def save(graph, name, meta):
    """Writes `graph` as OUT/name, opset 18, with ultralytics' metadata `meta`."""
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name))
    print("wrote", name)


def model(name, base, score_pos, input_shape, meta, dtype=TensorProto.FLOAT, extra_rank2=False, weight=1.0):
    """base: constant output [1, d1, d2]; score_pos: (i, j) that gets weight x the frame's mean."""
    mask = np.zeros_like(base)
    mask[0][score_pos] = weight
    base = base.copy()
    base[0][score_pos] = 0.0
    nodes = []
    inits = [
        numpy_helper.from_array(base.astype(np.float32), "base"),
        numpy_helper.from_array(mask.astype(np.float32), "mask"),
        numpy_helper.from_array(np.array([1, 2, 3], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "shape3"),
    ]
    src = "images"
    if dtype == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", ["images"], ["images32"], to=TensorProto.FLOAT))
        src = "images32"
    nodes += [
        helper.make_node("ReduceMean", [src, "axes"], ["mean"], keepdims=0),
        helper.make_node("Reshape", ["mean", "shape3"], ["mean3"]),
        helper.make_node("Mul", ["mean3", "mask"], ["scaled"]),
        helper.make_node("Add", ["scaled", "base"], ["out32"]),
    ]
    out_name = "out32"
    if extra_rank2:
        inits.append(numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape2"))
        nodes.append(helper.make_node("Reshape", ["out32", "shape2"], ["flat"]))
        out_name = "flat"
    if dtype == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", [out_name], ["output0"], to=TensorProto.FLOAT16))
    else:
        nodes.append(helper.make_node("Identity", [out_name], ["output0"]))
    out_shape = ["batch", "d1"] if extra_rank2 else ["batch", base.shape[1], base.shape[2]]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("images", dtype, input_shape)],
        [helper.make_tensor_value_info("output0", dtype, out_shape)],
        inits,
    )
    save(graph, name, meta)


def tiny_raw_head(name, nc, meta):
    """A miniature YOLO raw head with random weights: per stride 8, 16 and 32 an average pool
    and a 1x1 convolution, flattened and concatenated into [B, 4+nc, A] with A anchors for the
    input's size, boxes positive, class scores through a sigmoid. Many classes with varied
    scores, for the decoding and the best-class output where planted constants would be too
    regular."""
    rng = np.random.default_rng(0)
    rows = 4 + nc
    nodes, inits, flat = [], [], []
    inits.append(numpy_helper.from_array(np.array([0, rows, -1], dtype=np.int64), "flat_shape"))
    for s in (8, 16, 32):
        w = rng.normal(0, 2.0, (rows, 3, 1, 1)).astype(np.float32)
        b = rng.normal(0, 0.5, (rows,)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{s}"), numpy_helper.from_array(b, f"b{s}")]
        nodes += [
            helper.make_node("AveragePool", ["images"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Conv", [f"p{s}", f"w{s}", f"b{s}"], [f"c{s}"]),
            helper.make_node("Reshape", [f"c{s}", "flat_shape"], [f"r{s}"]),
        ]
        flat.append(f"r{s}")
    inits += [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([4], dtype=np.int64), "four"),
        numpy_helper.from_array(np.array([rows], dtype=np.int64), "end"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(64.0, dtype=np.float32), "box_scale"),
    ]
    nodes += [
        helper.make_node("Concat", flat, ["all"], axis=2),
        helper.make_node("Slice", ["all", "zero", "four", "axis1"], ["box_raw"]),
        helper.make_node("Abs", ["box_raw"], ["box_abs"]),
        helper.make_node("Mul", ["box_abs", "box_scale"], ["boxes"]),
        helper.make_node("Slice", ["all", "four", "end", "axis1"], ["cls_raw"]),
        helper.make_node("Sigmoid", ["cls_raw"], ["scores"]),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, DYN)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", rows, "anchors"])],
        inits,
    )
    save(graph, name, meta)


def raw(anchors, nc, kv=0):
    """anchors: list of (cx, cy, w, h, class, score, keypoints) -> [1, 4+nc+kv, A]."""
    t = np.zeros((1, 4 + nc + kv, len(anchors)), dtype=np.float32)
    for a, (cx, cy, w, h, c, s, k) in enumerate(anchors):
        t[0, 0:4, a] = (cx, cy, w, h)
        t[0, 4 + c, a] = s
        if kv:
            t[0, 4 + nc:, a] = k
    return t


def e2e(rows, width):
    t = np.zeros((1, len(rows), width), dtype=np.float32)
    for r, row in enumerate(rows):
        t[0, r, : len(row)] = row
    return t


def kpts(x0, y0):
    """17 keypoints on a line: (x0 + 4i, y0 + 2i), visibility 0.5 + i/40."""
    return sum(([x0 + 4 * i, y0 + 2 * i, 0.5 + i / 40] for i in range(COCO17)), [])


DET_NAMES = "{0: 'player', 1: 'ball', 2: 'net'}"
DYN = ["batch", 3, "height", "width"]


def main():
    os.makedirs(OUT, exist_ok=True)
    common = {"stride": "32", "imgsz": "[640, 640]", "batch": "1", "end2end": "False"}
    # Raw detection head, dynamic batch and size: NMS must suppress anchor 2, threshold drops 3.
    det_anchors = [
        (100, 100, 40, 60, 0, 0.0, None),  # score = frame mean
        (300, 200, 50, 50, 1, 0.9, None),
        (302, 201, 50, 50, 1, 0.8, None),  # same class, IoU ~0.9 with anchor 1: suppressed
        (301, 200, 50, 50, 2, 0.7, None),  # other class at the same place: kept (class-aware)
        (500, 300, 20, 20, 2, 0.1, None),  # under the default threshold
    ]
    meta = dict(common, task="detect", names=DET_NAMES, args="{'batch': 1, 'nms': None, 'dynamic': True}")
    model("planted-det-raw-dyn.onnx", raw(det_anchors, 3), (4, 0), DYN, meta)
    model("planted-det-raw-dyn-fp16.onnx", raw(det_anchors, 3), (4, 0), DYN, meta, dtype=TensorProto.FLOAT16)

    # NMS-exported / end-to-end rows, static batch 2 and static 320x320 input.
    rows = [
        [80, 60, 120, 140, 0.0, 0],  # score = frame mean
        [200, 100, 260, 160, 0.9, 1],
        [202, 100, 262, 160, 0.85, 1],  # overlapping, same class: an end-to-end output keeps it
        [10, 10, 20, 20, 0.05, 2],  # under the threshold
    ]
    meta = dict(common, task="detect", names=DET_NAMES, imgsz="[320, 320]", batch="2",
                args="{'batch': 2, 'nms': True, 'dynamic': False}")
    model("planted-det-e2e-static.onnx", e2e(rows, 6), (0, 4), [2, 3, 320, 320], meta)

    # Pose, raw head, one class, 17 keypoints.
    pose_anchors = [
        (200, 150, 80, 160, 0, 0.0, kpts(180, 100)),  # score = frame mean
        (400, 300, 60, 120, 0, 0.95, kpts(380, 260)),
    ]
    meta = dict(common, task="pose", names="{0: 'person'}", kpt_shape="[17, 3]",
                args="{'batch': 1, 'nms': None, 'dynamic': True}")
    model("planted-pose-raw-dyn.onnx", raw(pose_anchors, 1, 51), (4, 0), DYN, meta)

    # Pose, end-to-end rows (YOLO26 style).
    prow = [[160, 70, 240, 230, 0.0, 0] + kpts(180, 100), [370, 240, 430, 360, 0.95, 0] + kpts(380, 260)]
    meta = dict(common, task="pose", names="{0: 'person'}", kpt_shape="[17, 3]", end2end="True",
                args="{'batch': 1, 'nms': False, 'dynamic': True}")
    model("planted-pose-e2e-dyn.onnx", e2e(prow, 57), (0, 4), DYN, meta)

    # A box that moves with the frame's brightness: cx = 510 x mean = 2 x grey level, score 0.9.
    # A linear grey ramp over frames is linear motion, so interpolated boxes are exact.
    moving = [(0, 120, 40, 40, 0, 0.9, None), (500, 300, 20, 20, 1, 0.8, None)]
    meta = dict(common, task="detect", names="{0: 'player', 1: 'ball'}",
                args="{'batch': 1, 'nms': None, 'dynamic': True}")
    model("planted-det-moving.onnx", raw(moving, 2), (0, 0), DYN, meta, weight=510.0)

    # A miniature raw head with 80 classes (COCO-sized) and random weights.
    names = "{" + ", ".join(f"{i}: 'class{i}'" for i in range(80)) + "}"
    meta = dict(common, task="detect", names=names, args="{'batch': 1, 'nms': None, 'dynamic': True}")
    tiny_raw_head("tiny-det-raw-80.onnx", 80, meta)

    # Unsupported: a rank-2 output.
    meta = dict(common, task="detect", names=DET_NAMES)
    model("planted-bad-layout.onnx", raw(det_anchors, 3), (4, 0), DYN, meta, extra_rank2=True)


if __name__ == "__main__":
    main()
