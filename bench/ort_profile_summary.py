#!/usr/bin/env python3
"""Summarises ONNX Runtime profiles (COURTVISION_ORT_PROFILE=DIR): per file, run count, mean and
median run time, then time per operator and provider, largest first (per run, microseconds).

    python3 pipelines/ort_profile_summary.py DIR/*.json
"""
import collections
import json
import sys

for path in sys.argv[1:]:
    events = json.load(open(path))
    runs = [e["dur"] for e in events if e.get("name") == "model_run"]
    per = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            a = e.get("args", {})
            per[(a.get("op_name", "?"), a.get("provider", "?"))] += e["dur"]
    n = max(len(runs), 1)
    median = sorted(runs)[len(runs) // 2] if runs else 0
    print(f"{path.split('/')[-1]}: {len(runs)} runs, mean {sum(runs) / n:.0f} us per run, median {median} us")
    for (op, prov), d in per.most_common(12):
        print(f"  {op:24s} {prov:28s} {d / n:10.0f} us")
