#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""ONNX Runtime's model-only rate: session.run on a preallocated input, nothing else.

    python3 bench/ort_model_only.py MODEL [--size 640x640] [--batch 1] [--runs 100] [--threads 0]

Prints one line: model, input shape, runs, seconds, frames/s.
"""
import argparse
import time

import numpy as np
import onnxruntime as ort

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("--size", default="640x640", help="WIDTHxHEIGHT of the input tensor")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--runs", type=int, default=100)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = ORT default)")
p.add_argument("--providers", default="CPUExecutionProvider")
a = p.parse_args()

w, h = (int(v) for v in a.size.split("x"))
opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
s = ort.InferenceSession(a.model, opts, providers=a.providers.split(","))
inp = s.get_inputs()[0]
dtype = np.float16 if "float16" in inp.type else np.float32
x = np.random.default_rng(0).random((a.batch, 3, h, w)).astype(dtype)
feed = {inp.name: x}
for _ in range(a.warmup):
    s.run(None, feed)
t = time.perf_counter()
for _ in range(a.runs):
    s.run(None, feed)
dt = time.perf_counter() - t
print(f"model={a.model} input={a.batch}x3x{h}x{w} runs={a.runs} seconds={dt:.3f} fps={a.runs * a.batch / dt:.2f}")
