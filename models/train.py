# SPDX-License-Identifier: MIT OR Apache-2.0
"""Trains courtvision's default models on courtsrc data with ultralytics, from scratch (no
pretrained weights can be downloaded), and exports them to ONNX (fp32 and fp16).

Runs on a GPU host (models/train-models.sh prepares the data and calls it):
    python3 models/train.py TASK DATA_DIR VAL_DIR OUT_DIR HOURS [INIT.pt]
TASK is detect (classes player, shuttle) or pose (player with 17 COCO keypoints). DATA_DIR and
VAL_DIR are courtsrc dataset-dirs (courtsrc ... dataset-dir=DIR). Writes OUT_DIR/courtvision-
{det,pose}.onnx, ...-fp16.onnx, the best checkpoint, and train-TASK.json (settings, the
per-epoch results and the final validation metrics).
"""
import csv, json, os, shutil, sys, time

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "True")

task, data_dir, val_dir, out, hours = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
init = sys.argv[6] if len(sys.argv) > 6 else None  # continue from a checkpoint of an earlier round
sub = "detect" if task == "detect" else "pose"
os.makedirs(out, exist_ok=True)

import ultralytics.utils.checks as checks
import ultralytics.engine.trainer as trainer

# The AMP self-test downloads yolo26n.pt, which this offline host cannot; AMP is known good on
# Hopper GPUs, so it is taken as passed.
checks.check_amp = lambda *a, **k: True
trainer.check_amp = checks.check_amp

from ultralytics import YOLO

names = {0: "player", 1: "shuttle"} if task == "detect" else {0: "player"}
yaml_path = os.path.join(out, f"data-{task}.yaml")
with open(yaml_path, "w") as f:
    f.write(f"path: /\ntrain: {os.path.abspath(data_dir)}/{sub}/images\nval: {os.path.abspath(val_dir)}/{sub}/images\n")
    if task == "pose":
        f.write("kpt_shape: [17, 3]\nflip_idx: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]\n")
    f.write("names:\n" + "".join(f"  {k}: {v}\n" for k, v in names.items()))

settings = dict(
    data=yaml_path, epochs=300, time=hours, imgsz=640, batch=64, workers=7, cache="ram",
    device=0, plots=False, amp=True, project=os.path.join(out, "runs"), name=task, exist_ok=True,
    patience=1000, close_mosaic=3, seed=0, deterministic=False,
)
if init:
    settings.update(warmup_epochs=0.5, name=f"{task}-more")
model = YOLO(init or ("yolo11n.yaml" if task == "detect" else "yolo11n-pose.yaml"))
t0 = time.time()
model.train(**settings)
train_s = time.time() - t0
run = os.path.join(out, "runs", settings["name"])
best = os.path.join(run, "weights", "best.pt")
results = []
with open(os.path.join(run, "results.csv")) as f:
    results = [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(f)]

best_model = YOLO(best)
metrics = best_model.val(data=yaml_path, imgsz=640, batch=32, device=0, plots=False)
summary = {k: float(v) for k, v in metrics.results_dict.items()}
name = "courtvision-det" if task == "detect" else "courtvision-pose"
for half in (False, True):
    path = YOLO(best).export(format="onnx", imgsz=640, dynamic=True, simplify=False, opset=18, half=half, device=0)
    shutil.copy(path, os.path.join(out, f"{name}{'-fp16' if half else ''}.onnx"))
shutil.copy(best, os.path.join(out, f"{name}.pt"))
json.dump(
    dict(task=task, init=init, previous=json.load(open(os.path.join(out, f"train-{task}.json"))) if init else None, settings={k: v for k, v in settings.items() if k not in ("project",)},
         train_seconds=round(train_s), epochs_run=len(results), final_val=summary, per_epoch=results),
    open(os.path.join(out, f"train-{task}.json"), "w"), indent=1,
)
print("DONE", task, json.dumps(summary))
