#!/usr/bin/env bash
# Trains the default models (models/README.md) on the GPU host in two or three device calls,
# staged by `pipelines/gpu-pack.sh train` (.device/train: GStreamer runtime with the plugin,
# ultralytics wheels). The machine keeps /tmp while warm, so the calls follow each other at once:
#   start [HOURS]  install the wheels, render the datasets with courtsrc (train seeds 1000-1299,
#                  val seeds 5000-5019; 20 frames each, every 12th of 8 s at 1280x720, 2-4
#                  players, noise 0-12), then train detect and pose side by side in the
#                  background (HOURS each, default 0.3) and follow them for ~9 minutes;
#   wait           follow them for up to ~9.5 minutes more; once both are done, copy the ONNX
#                  exports and training records to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
W=/tmp/cvtrain
mkdir -p "$OUT" "$W"
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_CONFIG_DIR=$W/cfg
step=${1:-wait}

follow() {  # seconds
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do
    if grep -q '^DONE' $W/detect.log 2>/dev/null && grep -q '^DONE' $W/pose.log 2>/dev/null; then break; fi
    for t in detect pose; do
      if [ -f $W/$t.exit ] && ! grep -q '^DONE' $W/$t.log; then echo "$t failed:"; tail -30 $W/$t.log; return 1; fi
    done
    sleep 10
  done
  for t in detect pose; do
    echo "== $t: $(grep -c . $W/out/runs/$t/results.csv 2>/dev/null || echo 0) lines of results"
    tail -2 $W/out/runs/$t/results.csv 2>/dev/null | cut -c1-240
    grep '^DONE' $W/$t.log
  done
}

if [ "$step" = start ]; then
  hours=${2:-0.3}
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/train/*.whl || exit 1
  . .device/train/gpu-env.sh "" .device/train/gst-runtime.tar.xz
  python3 -c "import ultralytics, polars; print('ultralytics', ultralytics.__version__)" || exit 1
  gst-inspect-1.0 courtsrc >/dev/null || { echo "courtsrc missing"; exit 1; }
  gen() {
    gst-launch-1.0 -q courtsrc seed=$1 players=$((2 + $1 % 3)) noise=$(($1 % 13)) num-buffers=240 \
      dataset-interval=12 dataset-dir=$2 ! fakesink || echo "seed $1 failed"
  }
  export -f gen
  rm -rf $W/data && t0=$SECONDS
  seq 1000 1299 | xargs -P 16 -I{} bash -c 'gen {} /tmp/cvtrain/data/train'
  seq 5000 5019 | xargs -P 16 -I{} bash -c 'gen {} /tmp/cvtrain/data/val'
  echo "datasets: $(ls $W/data/train/detect/images | wc -l) train, $(ls $W/data/val/detect/images | wc -l) val images in $((SECONDS - t0)) s"
  rm -rf $W/out && mkdir -p $W/out
  for t in detect pose; do
    rm -f $W/$t.exit
    setsid nohup bash -c "python3 models/train.py $t $W/data/train $W/data/val $W/out $hours > $W/$t.log 2>&1; echo \$? > $W/$t.exit" >/dev/null 2>&1 &
  done
  sleep 60
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  follow 470
else
  follow 560 || exit 1
fi
if grep -q '^DONE' $W/detect.log 2>/dev/null && grep -q '^DONE' $W/pose.log 2>/dev/null; then
  cp $W/out/courtvision-*.onnx $W/out/train-*.json "$OUT/"
  tail -c 200000 $W/detect.log > "$OUT/detect.log"; tail -c 200000 $W/pose.log > "$OUT/pose.log"
  ls -la "$OUT"
fi
