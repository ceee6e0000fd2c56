#!/usr/bin/env bash
# Runs on the GPU machine (no build there): everything staged by gpu-pack.sh in .device/run,
# ONNX Runtime CUDA already unpacked to /tmp/ort by a first call. Writes details under $OUT and
# prints a table last.
#   a) model only, courtvision-infer engine, host-fed fp32 input: det and pose, batch 1/8/32;
#   b) pipeline: 1080p H.264 -> nvh264dec -> yolodetect (cuda) [-> posedetect] -> fakesink;
#   c) correctness: the same detections on CPU and CUDA (planted models exactly, test models
#      within fp32 tolerance);
#   GPU utilisation sampled by nvidia-smi during the pipeline runs.
set -uo pipefail
cd "$(dirname "$0")/.."
R=.device/run
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
. $R/gpu-env.sh "" $R/gst-runtime.tar.xz
export GST_DEBUG=${GST_DEBUG:-1}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
TABLE=$OUT/table.md
echo "| case | result |" > "$TABLE"
echo "| --- | --- |" >> "$TABLE"
row() { echo "| $1 | $2 |" >> "$TABLE"; }

for m in det pose; do
  for b in 1 8 32; do
    line=$($R/model_only $R/models/yolo11n-$m-dyn.onnx cuda $b 640x640 30 2>&1 | tail -1)
    echo "$line" >> "$OUT/model_only.txt"
    row "a) model only yolo11n-$m fp32 host-fed, batch $b" "$(grep -o 'fps=[0-9.]*' <<<"$line" || echo "$line")"
  done
done

# Preprocessing paths per batch: CPU letterbox (8 workers) + run vs uint8 + graph + IoBinding.
for b in 8 32; do
  line=$($R/graph_bench $R/models/yolo11n-det-dyn.onnx cuda nv12 1920x1080 $b 20 8 2>&1 | tail -1)
  echo "$line" >> "$OUT/graph_bench.txt"
  row "a) preprocessing paths, 1080p NV12, batch $b" "$(sed 's/.*batch [0-9]*: //' <<<"$line")"
done

CLIP=$R/clip-1080p.mp4
for b in 1 8 32; do
  (nvidia-smi dmon -s u -d 1 > "$OUT/dmon-det-b$b.txt" 2>&1 &) ; sleep 0.2
  line=$($R/cvlaunch filesrc location=$CLIP ! qtdemux ! h264parse ! nvh264dec \
    ! yolodetect model=$R/models/yolo11n-det-dyn.onnx execution-provider=cuda batch-size=$b \
    ! fakesink name=sink 2>&1 | tail -1)
  pkill -f "nvidia-smi dmon" || true
  echo "det b$b: $line" >> "$OUT/pipeline.txt"
  util=$(awk '$1 ~ /^[0-9]+$/ {s+=$2; n++} END {if (n) printf "%.0f%%", s/n}' "$OUT/dmon-det-b$b.txt")
  row "b) 1080p nvh264dec -> yolodetect cuda batch $b" "$(grep -o 'steady_fps=[0-9.]*' <<<"$line" || echo "$line") (GPU util ${util:-?})"
done
line=$($R/cvlaunch filesrc location=$CLIP ! qtdemux ! h264parse ! nvh264dec \
  ! yolodetect model=$R/models/yolo11n-det-dyn.onnx execution-provider=cuda batch-size=8 \
  ! posedetect model=$R/models/yolo11n-pose-dyn.onnx execution-provider=cuda batch-size=8 \
  ! fakesink name=sink 2>&1 | tail -1)
echo "det+pose b8: $line" >> "$OUT/pipeline.txt"
row "b) 1080p nvh264dec -> yolodetect + posedetect cuda batch 8" "$(grep -o 'steady_fps=[0-9.]*' <<<"$line" || echo "$line")"
line=$($R/cvlaunch filesrc location=$CLIP ! qtdemux ! h264parse ! nvh264dec ! fakesink name=sink 2>&1 | tail -1)
row "b) 1080p nvh264dec alone (decode ceiling)" "$(grep -o 'steady_fps=[0-9.]*' <<<"$line" || echo "$line")"
# Several streams at once: shows whether one stream's limit is the GPU or its own host-side work.
for n in 2 4; do
  for i in $(seq $n); do
    $R/cvlaunch filesrc location=$CLIP ! qtdemux ! h264parse ! nvh264dec \
      ! yolodetect model=$R/models/yolo11n-det-dyn.onnx execution-provider=cuda batch-size=8 \
      ! fakesink name=sink > "$OUT/par$n-$i.txt" 2>&1 &
  done
  wait
  total=$(python3 -c "import sys; print(round(sum(map(float, sys.argv[1:])), 1))" \
    $(grep -ho 'steady_fps=[0-9.]*' "$OUT"/par$n-*.txt | cut -d= -f2))
  row "b) $n parallel streams, yolodetect cuda batch 8 each" "total ${total} fps"
done

# c) correctness: CPU and CUDA give the same detections.
for ep in cpu cuda; do
  $R/cvlaunch --json "$OUT/planted-$ep.jsonl" videotestsrc num-buffers=6 ! video/x-raw,width=640,height=480 \
    ! yolodetect model=tests/models/planted-det-raw-dyn.onnx execution-provider=$ep batch-size=4 \
    ! posedetect model=tests/models/planted-pose-e2e-dyn.onnx execution-provider=$ep ! fakesink name=sink > /dev/null 2>&1
  $R/cvlaunch --json "$OUT/models-$ep.jsonl" filesrc location=$R/clip-1080p-40.mp4 ! qtdemux ! h264parse ! nvh264dec \
    ! yolodetect model=$R/models/yolo11n-det-dyn.onnx conf-threshold=0.0001 max-detections=50 execution-provider=$ep \
    ! posedetect model=$R/models/yolo11n-pose-dyn.onnx conf-threshold=0.0001 max-detections=20 execution-provider=$ep \
    ! fakesink name=sink > /dev/null 2>&1
done
python3 - "$OUT" >> "$TABLE" <<'PY'
import json, sys
out = sys.argv[1]
def load(p):
    try:
        return [json.loads(l) for l in open(p)]
    except OSError:
        return []
for name, tol in (("planted", 1e-3), ("models", 2e-2)):
    a, b = load(f"{out}/{name}-cpu.jsonl"), load(f"{out}/{name}-cuda.jsonl")
    worst, n, mismatch = 0.0, 0, 0
    for fa, fb in zip(a, b):
        da, db = fa["detections"], fb["detections"]
        if len(da) != len(db):
            mismatch += 1
            continue
        for x, y in zip(sorted(da, key=lambda d: (d["source"], -d["confidence"])), sorted(db, key=lambda d: (d["source"], -d["confidence"]))):
            n += 1
            # Relative score difference; box difference in pixels divided by 1000.
            worst = max(worst, abs(x["confidence"] - y["confidence"]) / max(x["confidence"], 1e-9), *(abs(x["box"][k] - y["box"][k]) / 1000 for k in "xywh"))
    ok = a and len(a) == len(b) and mismatch == 0 and worst <= tol
    print(f"| c) {name}: CPU vs CUDA, {len(a)} frames, {n} detections | {'same' if ok else 'DIFFERENT'} (worst diff {worst:.2e}, count mismatches {mismatch}) |")
PY
echo
cat "$TABLE"
