#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Compares two runs' frame JSON Lines (cvlaunch --json / metaexport): per frame, detections of
the same element and label are matched one to one by IoU (greedy, best first). Prints one
Markdown table row: frames, detections on each side, matched at IoU >= 0.5, mean IoU of the
matches, worst score difference, worst keypoint distance in pixels.

    python3 bench/compare_detections.py A.jsonl B.jsonl "row title"
"""
import json
import sys


def load(path):
    try:
        return [json.loads(line) for line in open(path)]
    except OSError:
        return []


def iou(a, b):
    ax2, ay2, bx2, by2 = a["x"] + a["w"], a["y"] + a["h"], b["x"] + b["w"], b["y"] + b["h"]
    iw = max(0.0, min(ax2, bx2) - max(a["x"], b["x"]))
    ih = max(0.0, min(ay2, by2) - max(a["y"], b["y"]))
    inter = iw * ih
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


a, b, title = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
na = nb = matched = 0
ious, score_diff, kpt_diff = [], 0.0, 0.0
for fa, fb in zip(a, b):
    da, db = fa.get("detections", []), fb.get("detections", [])
    na, nb = na + len(da), nb + len(db)
    pairs = sorted(
        ((iou(x["box"], y["box"]), i, j) for i, x in enumerate(da) for j, y in enumerate(db)
         if x["source"] == y["source"] and x["label"] == y["label"]),
        reverse=True,
    )
    used_a, used_b = set(), set()
    for v, i, j in pairs:
        if v < 0.5 or i in used_a or j in used_b:
            continue
        used_a.add(i), used_b.add(j)
        matched += 1
        ious.append(v)
        x, y = da[i], db[j]
        score_diff = max(score_diff, abs(x["confidence"] - y["confidence"]))
        for p, q in zip(x.get("keypoints") or [], y.get("keypoints") or []):
            (px, py), (qx, qy) = [(k["x"], k["y"]) if isinstance(k, dict) else k[:2] for k in (p, q)]
            kpt_diff = max(kpt_diff, ((px - qx) ** 2 + (py - qy) ** 2) ** 0.5)
ok = a and len(a) == len(b)
mean_iou = sum(ious) / len(ious) if ious else 0.0
print(
    f"| {title} | {len(a)} vs {len(b)} frames{'' if ok else ' (MISSING OUTPUT)'}: {na} vs {nb} detections, "
    f"{matched} matched (mean IoU {mean_iou:.4f}), worst score diff {score_diff:.2e}, worst keypoint diff {kpt_diff:.2f} px |"
)
