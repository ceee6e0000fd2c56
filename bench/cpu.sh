#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The CPU benchmark: yolodetect against ONNX Runtime's model-only rate, and the whole annotated
# pipeline against the Python+OpenCV loop doing the same work, measured in the same run.
#
#   bench/cpu.sh [model|pipeline|all|real] [MODEL] [FRAMES] [ROUNDS]   (FRAMES: 300; real: 150)
#
# Clips: a rendered match (courtsrc: players, shuttle, sensor noise, lighting drift) at 854x480,
# H.264, made once under bench-out/.
# model: yolodetect alone against ONNX Runtime's model-only rate. Per round (default 3),
#   interleaved so that machine noise hits both sides alike: model only (Python onnxruntime
#   session.run, a preallocated batch-1 input at 640x640 and at 640x384, the size rectangular
#   inference runs this clip at) and the pipeline (filesrc ! decodebin ! videoconvert !
#   yolodetect MODEL ! fakesink) at the default batch size (4) and at 1. Medians; pipeline rates
#   are steady rates from the first frame out.
# pipeline: decode -> [motionskip] -> yolodetect -> posedetect -> overlayrender -> timingmeta
#   -> avenc_mpeg4 -> mp4mux against bench/python_loop.py with the same models and codec (cv2
#   mp4v = MPEG-4 part 2), 150 frames, whole processes (model load included); batch sizes
#   1/2/4/8, fixed and adaptive skipping. `identity single-segment=true` after decodebin:
#   GStreamer 1.22's avenc_mpeg4 writes an empty MP4 when it gets qtdemux's segment unchanged.
# real: real camera footage (REAL_CLIP=any video file; by default OpenCV's sample vtest.avi,
#   people walking in a street filmed by a fixed camera, 768x576, from Debian's opencv-doc
#   package), its first FRAMES frames as H.264 at 2.5 Mbit/s: the annotated pipeline
#   (batch-size 4, no skipping) against bench/python_loop.py, each with the fp32 models and
#   with the int8 ones (models/*-int8.onnx), whole processes timed from outside (start-up and
#   model loading included), ROUNDS rounds interleaved, medians.
# MODEL defaults to the default detector (models/courtvision-det.onnx), the pose model to
# models/courtvision-pose.onnx (COURTVISION_POSE_MODEL); CVLAUNCH runs another build's launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
MODEL=${2:-models/courtvision-det.onnx}
POSE=${COURTVISION_POSE_MODEL:-models/courtvision-pose.onnx}
FRAMES=${3:-$([ "$WHAT" = real ] && echo 150 || echo 300)}
ROUNDS=${4:-3}
OUT=bench-out
mkdir -p "$OUT"
cargo build --release -q -p courtvision-bench --bin cvlaunch -p gst-plugin-courtsrc
LAUNCH=${CVLAUNCH:-target/release/cvlaunch}
# A rendered match of N frames at 854x480, H.264 at a camera-like bitrate.
clip() {
  [ -s "$2" ] || GST_PLUGIN_PATH=target/release gst-launch-1.0 -q courtsrc seed=9006 players=4 \
    num-buffers="$1" ! video/x-raw,width=854,height=480,framerate=30/1 ! videoconvert \
    ! video/x-raw,format=I420 ! x264enc speed-preset=fast bitrate=2500 ! mp4mux ! filesink location="$2"
}
# A video file's frames, width and height, as cv2 reads it.
frames_of() {
  python3 -c "
import cv2; c = cv2.VideoCapture('$1'); n = 0
while c.read()[0]: n += 1
print(n, int(c.get(cv2.CAP_PROP_FRAME_WIDTH)), int(c.get(cv2.CAP_PROP_FRAME_HEIGHT)))"
}
CLIP=$OUT/match-854x480-$FRAMES.mp4
clip "$FRAMES" "$CLIP"

if [ "$WHAT" = model ] || [ "$WHAT" = all ]; then
fps() { sed -n 's/.*steady_fps=\([0-9.]*\).*/\1/p; s/.*input=.* fps=\([0-9.]*\)$/\1/p'; }
LOG=$OUT/benchmark.log
: > "$LOG"
for r in $(seq "$ROUNDS"); do
  for size in 640x640 640x384; do
    line=$(python3 bench/ort_model_only.py "$MODEL" --size $size --batch 1 --runs 60)
    echo "round $r model-only $size: $line" | tee -a "$LOG"
    echo "mo_$size $(fps <<<"$line")" >> "$OUT/rates.$$"
  done
  for b in default 1; do
    prop=""; [ "$b" = default ] || prop="batch-size=$b"
    line=$($LAUNCH filesrc location="$CLIP" ! decodebin ! videoconvert \
      ! yolodetect model="$MODEL" $prop ! fakesink name=sink)
    echo "round $r pipeline batch $b: $line" | tee -a "$LOG"
    echo "pl_$b $(fps <<<"$line")" >> "$OUT/rates.$$"
  done
done

python3 - "$OUT/rates.$$" "$(nproc)" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rates.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in rates.items()}
base = m["mo_640x640"]
print()
print(f"| median of {len(rates['mo_640x640'])} rounds, {sys.argv[2]}-core CPU | frames/s | vs model-only 640x640 |")
print("| --- | --- | --- |")
print(f"| onnxruntime session.run, 640x640, batch 1 (model only) | {base:.1f} | 1.00x |")
print(f"| onnxruntime session.run, 640x384, batch 1 (model only) | {m['mo_640x384']:.1f} | {m['mo_640x384']/base:.2f}x |")
print(f"| pipeline, 854x480 H.264 -> yolodetect (default batch-size 4) | {m['pl_default']:.1f} | {m['pl_default']/base:.2f}x |")
print(f"| pipeline, 854x480 H.264 -> yolodetect batch-size=1 | {m['pl_1']:.1f} | {m['pl_1']/base:.2f}x |")
PY
rm -f "$OUT/rates.$$"
fi

if [ "$WHAT" = pipeline ] || [ "$WHAT" = all ]; then
  python3 -c "import cv2" 2>/dev/null || python3 -m pip install -q opencv-python-headless
  PCLIP=$OUT/match-854x480-150.mp4
  clip 150 "$PCLIP"
  PLOG=$OUT/pipeline.log
  : > "$PLOG"
  rm -f "$OUT/annotated.mp4"
  py=$(python3 bench/python_loop.py "$PCLIP" "$OUT/python.mp4" "$MODEL" "$POSE")
  echo "python loop: $py" | tee -a "$PLOG"
  py_fps=$(sed 's/.*fps=//' <<<"$py")
  annotated() { # $1: batch size, $2: skip element (or empty), $3: fill
    $LAUNCH filesrc location="$PCLIP" ! decodebin ! identity single-segment=true ! videoconvert ! timingmeta mode=ingress $2 \
      ! yolodetect model="$MODEL" batch-size=$1 fill=$3 ! posedetect model="$POSE" batch-size=$1 fill=$3 \
      ! overlayrender ! timingmeta mode=egress ! tee name=t ! queue ! fakesink name=sink \
      t. ! queue ! videoconvert ! avenc_mpeg4 bitrate=4000000 ! mp4mux ! filesink location="$OUT/annotated.mp4" \
      | sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p'
  }
  rows=()
  for b in 1 2 4 8; do
    wall=$(annotated $b "" none)
    fps=$(python3 -c "print(150/$wall)")
    echo "batch-size=$b no skipping: wall $wall s, $fps fps" | tee -a "$PLOG"
    rows+=("| batch-size=$b, no skipping | $(printf %.1f "$fps") | $(python3 -c "print(f'{$fps/$py_fps:.2f}x')") |")
  done
  for skip in "fixed interval=2:hold" "adaptive:interpolate"; do
    mode=${skip%%:*}; fill=${skip##*:}
    wall=$(annotated 4 "! motionskip mode=$mode" "$fill")
    fps=$(python3 -c "print(150/$wall)")
    echo "motionskip mode=$mode fill=$fill: wall $wall s, $fps fps" | tee -a "$PLOG"
    rows+=("| batch-size=4, motionskip mode=$mode, fill=$fill | $(printf %.1f "$fps") | $(python3 -c "print(f'{$fps/$py_fps:.2f}x')") |")
  done
  frames_out=$(frames_of "$OUT/annotated.mp4" | cut -d' ' -f1)
  echo "annotated.mp4 (last run) has $frames_out frames" | tee -a "$PLOG"
  echo
  echo "| annotated pipeline, 854x480 H.264, 150 frames, $(nproc)-core CPU (model load included) | frames/s | vs Python loop |"
  echo "| --- | --- | --- |"
  printf "| Python+OpenCV loop (bench/python_loop.py) | %.1f | 1.00x |\n" "$py_fps"
  printf "%s\n" "${rows[@]}"
fi

if [ "$WHAT" = real ]; then
  python3 -c "import cv2" 2>/dev/null || python3 -m pip install -q opencv-python-headless
  SRC=${REAL_CLIP:-}
  if [ -z "$SRC" ]; then
    SRC=$OUT/vtest.avi
    if [ ! -s "$SRC" ]; then
      (cd "$OUT" && apt-get download -q opencv-doc >/dev/null)
      dpkg-deb --fsys-tarfile "$OUT"/opencv-doc_*.deb \
        | tar -xO ./usr/share/doc/opencv-doc/examples/data/vtest.avi > "$SRC"
      rm -f "$OUT"/opencv-doc_*.deb
    fi
  fi
  RCLIP=$OUT/real-$(basename "${SRC%.*}")-$FRAMES.mp4
  [ -s "$RCLIP" ] || gst-launch-1.0 -q filesrc location="$SRC" ! decodebin ! videoconvert \
    ! identity eos-after="$FRAMES" ! video/x-raw,format=I420 ! x264enc speed-preset=fast bitrate=2500 \
    ! mp4mux ! filesink location="$RCLIP"
  read -r n rw rh <<<"$(frames_of "$RCLIP")"
  RLOG=$OUT/real.log
  : > "$RLOG"
  whole() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
  for r in $(seq "$ROUNDS"); do
    for prec in fp32 int8; do
      det=models/courtvision-det.onnx pose=models/courtvision-pose.onnx
      [ $prec = int8 ] && det=models/courtvision-det-int8.onnx pose=models/courtvision-pose-int8.onnx
      py=$(whole python3 bench/python_loop.py "$RCLIP" "$OUT/real-python.mp4" $det $pose)
      pl=$(whole $LAUNCH filesrc location="$RCLIP" ! decodebin ! identity single-segment=true ! videoconvert \
        ! yolodetect model=$det ! posedetect model=$pose ! overlayrender ! videoconvert \
        ! avenc_mpeg4 bitrate=4000000 ! mp4mux ! filesink location="$OUT/real-annotated.mp4")
      echo "round $r $prec: python $py s, pipeline $pl s" | tee -a "$RLOG"
      echo "py_$prec $py" >> "$OUT/real.$$"; echo "pl_$prec $pl" >> "$OUT/real.$$"
    done
  done
  python3 - "$OUT/real.$$" "$n" "$rw" "$rh" "$(basename "$SRC")" "$(nproc)" "$ROUNDS" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(float(v))
m = {k: statistics.median(v) for k, v in t.items()}
n, w, h, name, cores, rounds = sys.argv[2:]
n = int(n)
print()
print(f"| {name}, {w}x{h} H.264, {n} frames, detection + pose + drawing + MPEG-4 encoding, whole processes, {cores}-core CPU, median of {rounds} | seconds | frames/s | vs Python loop fp32 | vs Python loop, same models |")
print("| --- | --- | --- | --- | --- |")
for k, what in (("py_fp32", "Python+OpenCV loop, fp32 models"), ("py_int8", "Python+OpenCV loop, int8 models"),
                ("pl_fp32", "courtvision pipeline, fp32 models"), ("pl_int8", "courtvision pipeline, int8 models")):
    same = m["py_" + k[3:]]
    print(f"| {what} | {m[k]:.1f} | {n / m[k]:.1f} | {m['py_fp32'] / m[k]:.2f}x | {same / m[k]:.2f}x |")
PY
  rm -f "$OUT/real.$$"
fi
