#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""The straightforward Python + OpenCV loop courtvision is measured against: cv2 read ->
letterbox -> onnxruntime batch 1 (detection model, then pose model) -> numpy decode + NMS ->
cv2 draw -> cv2.VideoWriter (mp4v, MPEG-4 part 2). The same work as the annotated pipeline,
written the way a hand-written analysis script usually is.

    python3 bench/python_loop.py IN.mp4 OUT.mp4 DET.onnx POSE.onnx [--conf 0.25]

Prints one line: frames, seconds, fps.
"""
import argparse
import time

import cv2
import numpy as np
import onnxruntime as ort


def letterbox(img, size=640, stride=32):
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = round(w * r), round(h * r)
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    x = img[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(x), r, left, top


def nms(boxes, scores, iou):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        o = inter / (area(boxes[i]) + area(boxes[order[1:]]) - inter + 1e-9)
        order = order[1:][o <= iou]
    return keep


def decode(out, nc, conf, iou, r, left, top, nk=0, max_det=300):
    p = out[0].T  # [A, 4 + nc + 3k]
    scores = p[:, 4:4 + nc]
    cls = scores.argmax(1)
    best = scores[np.arange(len(p)), cls]
    m = best > conf
    p, cls, best = p[m], cls[m], best[m]
    xy, wh = p[:, :2], p[:, 2:4]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
    keep = nms(boxes + cls[:, None] * 7680.0, best, iou)[:max_det]
    boxes = (boxes[keep] - [left, top, left, top]) / r
    kpts = None
    if nk:
        kpts = p[keep, 4 + nc:].reshape(-1, nk, 3).copy()
        kpts[..., 0] = (kpts[..., 0] - left) / r
        kpts[..., 1] = (kpts[..., 1] - top) / r
    return boxes, best[keep], cls[keep], kpts


def main():
    a = argparse.ArgumentParser()
    a.add_argument("inp")
    a.add_argument("out")
    a.add_argument("det")
    a.add_argument("pose")
    a.add_argument("--conf", type=float, default=0.25)
    a.add_argument("--iou", type=float, default=0.7)
    args = a.parse_args()
    det = ort.InferenceSession(args.det, providers=["CPUExecutionProvider"])
    pose = ort.InferenceSession(args.pose, providers=["CPUExecutionProvider"])
    nc_det = int(det.get_outputs()[0].shape[1]) - 4 if isinstance(det.get_outputs()[0].shape[1], int) else 80
    names = eval(det.get_modelmeta().custom_metadata_map.get("names", "{}")) or {}
    nc_det = len(names) or nc_det
    pnames = eval(pose.get_modelmeta().custom_metadata_map.get("names", "{}")) or {0: "person"}
    nc_pose = len(pnames)
    cap = cv2.VideoCapture(args.inp)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    frames, t0 = 0, time.perf_counter()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        x, r, left, top = letterbox(img)
        boxes, scores, cls, _ = decode(det.run(None, {"images": x})[0], nc_det, args.conf, args.iou, r, left, top)
        pboxes, pscores, _, kpts = decode(pose.run(None, {"images": x})[0], nc_pose, args.conf, args.iou, r, left, top, 17)
        for b, s, c in zip(boxes, scores, cls):
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (255, 42, 4), 2)
            cv2.putText(img, f"{names.get(int(c), c)} {s:.2f}", (int(b[0]), int(b[1]) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        for b, k in zip(pboxes, kpts if kpts is not None else []):
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (255, 42, 4), 2)
            for px, py, pv in k:
                if pv > 0.5:
                    cv2.circle(img, (int(px), int(py)), 3, (0, 255, 0), -1)
        writer.write(img)
        frames += 1
    writer.release()
    dt = time.perf_counter() - t0
    print(f"frames={frames} seconds={dt:.3f} fps={frames / dt:.2f}")


if __name__ == "__main__":
    main()
