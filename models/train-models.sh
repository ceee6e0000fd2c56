#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Trains the default models (models/README.md) on a GPU host, from what models/train-pack.sh
# staged in .device/train (a GStreamer runtime with courtsrc, the ultralytics wheels). Every call ends with usable exports in $OUT, so a machine lost between calls loses
# nothing already copied back:
#   start [HOURS] [TASKS]  install the wheels, render the datasets with courtsrc (train seeds
#                  1000-1239, val seeds 5000-5019; 40 frames each, every 6th of 8 s at 1280x720,
#                  2-4 players, noise 0-12), train TASKS ("detect pose", the default, side by
#                  side; or one of them) from scratch (HOURS each, default 0.1), validate, export
#                  ONNX fp32 + fp16 and the best checkpoint to $OUT;
#   more [HOURS] [TASKS]  (same machine, still warm) continue from the last round's best weights.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
W=/tmp/cvtrain
mkdir -p "$OUT" "$W"
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_CONFIG_DIR=$W/cfg
step=${1:-start}
hours=${2:-0.1}
tasks=${3:-detect pose}

if [ "$step" = start ]; then
  t0=$SECONDS
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/train/*.whl || exit 1
  rm -rf /tmp/gst && tar -C /tmp -xJf .device/train/gst-runtime.tar.xz
  export LD_LIBRARY_PATH=/tmp/gst/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} PATH=/tmp/gst/bin:$PATH
  export GST_PLUGIN_SYSTEM_PATH=/tmp/gst/plugins GST_PLUGIN_SCANNER=/tmp/gst/bin/gst-plugin-scanner
  python3 -c "import ultralytics, polars; print('ultralytics', ultralytics.__version__)" || exit 1
  gst-inspect-1.0 courtsrc >/dev/null || { echo "courtsrc missing"; exit 1; }
  gen() {
    RAYON_NUM_THREADS=1 gst-launch-1.0 -q courtsrc seed=$1 players=$((2 + $1 % 3)) noise=$(($1 % 13)) \
      num-buffers=240 dataset-interval=6 dataset-dir=$2 ! fakesink || echo "seed $1 failed"
  }
  export -f gen
  rm -rf $W/data $W/out && mkdir -p $W/out
  seq 1000 1239 | xargs -P 16 -I{} bash -c 'gen {} /tmp/cvtrain/data/train'
  seq 5000 5019 | xargs -P 16 -I{} bash -c 'gen {} /tmp/cvtrain/data/val'
  echo "datasets: $(ls $W/data/train/detect/images | wc -l) train, $(ls $W/data/val/detect/images | wc -l) val images after $((SECONDS - t0)) s"
  init_det= init_pose=
else
  init_det=$W/out/courtvision-det.pt init_pose=$W/out/courtvision-pose.pt
  for t in $tasks; do
    [ -f $W/out/courtvision-${t/detect/det}.pt ] || { echo "no earlier $t round on this machine"; exit 1; }
  done
fi
for t in $tasks; do
  case $t in
    detect) python3 models/train.py detect $W/data/train $W/data/val $W/out $hours $init_det > $W/detect.log 2>&1 & ;;
    pose) python3 models/train.py pose $W/data/train $W/data/val $W/out $hours $init_pose > $W/pose.log 2>&1 & ;;
    *) echo "unknown task $t"; exit 1 ;;
  esac
done
sleep 45; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
wait
for t in $tasks; do
  grep -q '^DONE' $W/$t.log || { echo "$t failed:"; tail -40 $W/$t.log; }
  grep '^DONE' $W/$t.log
  tail -c 100000 $W/$t.log > "$OUT/$t.log"
done
cp $W/out/courtvision-*.onnx $W/out/courtvision-*.pt $W/out/train-*.json "$OUT/" 2>/dev/null
ls -la "$OUT"
