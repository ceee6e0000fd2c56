#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Tracking measures of the same data by the reference implementations from PyPI:
py-motmetrics (MOTA, IDF1, ID switches) and TrackEval (HOTA, DetA, AssA, and its own MOTA,
IDF1 and switches). Reads JSON on stdin:
    {"sequences": [[{"gt": [[id, x1, y1, x2, y2], ...], "pred": [...]}, ...], ...]}
and prints the figures as JSON."""
import json
import sys

import motmetrics as mm
import numpy as np
from trackeval.datasets._base_dataset import _BaseDataset
from trackeval.metrics import CLEAR, HOTA, Identity


def boxes(rows):
    return np.array([r[1:] for r in rows], dtype=float).reshape(-1, 4)


def motmetrics_figures(sequences):
    accs = []
    for seq in sequences:
        acc = mm.MOTAccumulator(auto_id=True)
        for f in seq:
            g, p = boxes(f["gt"]), boxes(f["pred"])
            # The distances motmetrics' iou_matrix gives (1 - IoU, none below IoU 0.5),
            # computed here: that helper calls np.asfarray, gone in NumPy 2.
            iou = _BaseDataset._calculate_box_ious(g, p, box_format="x0y0x1y1")
            dist = np.where(iou >= 0.5, 1.0 - iou, np.nan)
            acc.update([r[0] for r in f["gt"]], [r[0] for r in f["pred"]], dist)
        accs.append(acc)
    mh = mm.metrics.create()
    names = [str(i) for i in range(len(accs))]
    s = mh.compute_many(accs, names=names, metrics=["mota", "idf1", "num_switches"],
                        generate_overall=True)
    o = s.loc["OVERALL"]
    return {"mota": float(o["mota"]), "idf1": float(o["idf1"]),
            "id_switches": int(o["num_switches"])}


def trackeval_data(seq):
    gt_map, pr_map = {}, {}
    for f in seq:
        for r in f["gt"]:
            gt_map.setdefault(r[0], len(gt_map))
        for r in f["pred"]:
            pr_map.setdefault(r[0], len(pr_map))
    data = {"num_timesteps": len(seq), "num_gt_ids": len(gt_map),
            "num_tracker_ids": len(pr_map), "gt_ids": [], "tracker_ids": [],
            "similarity_scores": [], "num_gt_dets": 0, "num_tracker_dets": 0}
    for f in seq:
        g, p = boxes(f["gt"]), boxes(f["pred"])
        data["gt_ids"].append(np.array([gt_map[r[0]] for r in f["gt"]], dtype=int))
        data["tracker_ids"].append(np.array([pr_map[r[0]] for r in f["pred"]], dtype=int))
        data["similarity_scores"].append(
            _BaseDataset._calculate_box_ious(g, p, box_format="x0y0x1y1"))
        data["num_gt_dets"] += len(g)
        data["num_tracker_dets"] += len(p)
    return data


def trackeval_figures(sequences):
    out = {}
    for metric in (HOTA(), CLEAR({"PRINT_CONFIG": False}), Identity({"PRINT_CONFIG": False})):
        per = {str(i): metric.eval_sequence(trackeval_data(s)) for i, s in enumerate(sequences)}
        res = metric.combine_sequences(per)
        if isinstance(metric, HOTA):
            out.update(hota=float(np.mean(res["HOTA"])), deta=float(np.mean(res["DetA"])),
                       assa=float(np.mean(res["AssA"])))
        elif isinstance(metric, CLEAR):
            out.update(mota=float(res["MOTA"]), id_switches=int(res["IDSW"]))
        else:
            out.update(idf1=float(res["IDF1"]))
    return out


def main():
    sequences = json.load(sys.stdin)["sequences"]
    print(json.dumps({"motmetrics": motmetrics_figures(sequences),
                      "trackeval": trackeval_figures(sequences)}))


if __name__ == "__main__":
    main()
