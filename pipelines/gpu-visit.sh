#!/usr/bin/env bash
# The GPU benchmark and GPU correctness check of issue 3, run on the H100 host (no build there)
# from what pipelines/gpu-pack.sh staged in .device/run, ONNX Runtime CUDA already unpacked to
# /tmp/ort by a first call (`. .device/run/gpu-env.sh .device/ort`). Sections, each within one
# call of the device tool (10 minutes) and each redoing the setup it needs if the machine is new:
#   setup   install the ultralytics wheels, export yolo11n det/pose and yolo11s det (fp32, fp16)
#   a       model only: input resident on the GPU (the limit of this stack), batch 1/8/32,
#           at 640x384 (what 1080p letterboxes to); host-fed and CUDA-graph variants;
#           preprocessing paths per batch (graph_bench)
#   b       1080p H.264 -> nvh264dec -> yolodetect [-> posedetect] -> fakesink, GPU utilisation,
#           several streams at once, decode alone, batch-1 latency, tensorrt
#   c       the Python loop: cv2 read + ultralytics predict with torch on the same GPU
#   check   the same detections on the CPU and on CUDA (host and device preprocessing, fp16)
#   p       ONNX Runtime profiles of the device path (time per operator and provider)
#   m       one stream with a queue after the decoder; 4 and 8 streams in one process
#   g       cuda-graph=true in the element: throughput, batch-1 latency, the same detections
#   d       what bounds several streams: 8 decoders in one process / in 8, and 8 cuda-graph streams
#   u       frames in CUDA memory from nvh264dec (no trip through host memory): throughput, streams,
#           latency, and the same detections as from host memory and on the CPU
#   s       one process with 12 and 16 streams in CUDA memory (r: the same at b1 and b8)
#   gc      cuda-graph=true with frames in CUDA memory
#   bc      after the best-class output: bl (batch-1 latency and where it goes), bt (one
#           stream, one process with 12-16 streams), bk (the same detections: CPU, every class
#           row, cuda-graph, fp16)
#   dn      12 and 16 decoders alone in one process (CUDA memory), 12 cuda-graph streams
#   dl      12 decoders in one process beside a model-only loop in another
#   mc      one process with 12-16 streams, CUDA_DEVICE_MAX_CONNECTIONS=32 against the default
#   dt      a decoder's time per frame (latency tracer), 12 streams, with and without models
#   dx      a model-only loop and 12 decoders in separate processes: what each keeps
#   cs      how threads wait for the GPU (COURTVISION_CUDA_SYNC), with CPU cores busy
#   mp      streams spread over several processes of several streams each
#   cn      several Python loops at once
#   lk      the letterbox kernel: against the CPU letterbox, per batch, pipelines
#   lc      the letterbox kernel: batch-1 latency, the same detections
#   lv      (b) against (a) at b32 in one visit, one stream, the Python loop
#   dp      yolodetect -> posedetect with the letterbox kernel, one and several streams
#   smoke   a short check of a build: kernel vs CPU, one and twelve streams, detections
#   wv      (b) against (a) at b32 while every stream runs, with the elements' batch timings
#   dc      what caps decoding: decoders alone, one process against one process each, 1080p / 720p
#   wl      models loading side by side: 16 streams fp32 / fp16 b32 with load times, first batches
#   gi      nvh264dec's properties on this runtime
#   dd      nvh264dec max-display-delay: one decoder, 16 alone, 16 streams fp16 b32
#   su      where the start-up of 16 streams goes (each element's load and first batch)
#   fr      a session's load and first run alone, and 4 / 16 processes starting at once
#   dr      nvh264dec max-display-delay=16 against the default, alternating, 16 streams fp16 b32
#   en      streams sharing one session (engine-name): start-up, rates, the same detections
#   ea      16 streams fp16 b32 on two shared sessions, three runs, between two (a) runs
#   ez      sharers of two model input sizes on two sessions (16 streams fp16 b4)
#   ep      engine pools: 2 / 4 sessions for 16 streams, batches of 4 combined, same detections
#   hu      frames from system memory uploaded one at a time for the letterbox kernel, against
#           the uint8 batch and preprocessing graph of before (COURTVISION_LETTERBOX_KERNEL=0)
#   ab      this build against an older one ($R/cvlaunch-old: `OLD=REV pipelines/gpu-pack.sh`),
#           alternating: 16 streams fp16 b32 on two shared sessions, H.264 twice, HEVC once;
#           16 decoders alone
#   hs      16 streams from HEVC (decoders not the cap): where the time goes, 2 / 4 sessions, a
#           model each, CUDA_DEVICE_MAX_CONNECTIONS=32
#   hi      16 streams of H.264 fp16 b32: a model each against 16 shared sessions
#   hx      past NVDEC's H.264 rate: 16 streams from HEVC (nvh265dec), and 16 nvh264dec streams
#           beside N streams decoded on the CPU (openh264dec), fp16 b32, between two (a) runs
#   hn      NVDEC's H.264 rate against 14 / 21 / 28 streams; 21 / 28 streams a model each; 16
#           shared sessions that never combine
#   hf      pools of 2 and 4 sessions (H.264, HEVC) against a model each and against
#           $R/cvlaunch-old with any caller running any group
#   hr      (a), 16 streams H.264 fp16 b32 on two shared sessions, (a) again
#   ov      fp16 b32: (a) against the elements' run after the letterbox kernel (best-class
#           output copied to the host), 1 / 2 / 3 sessions side by side; 16 HEVC streams
#   hy      16 nvh264dec + 4 / 8 openh264dec streams (pools fixed) against 16 nvh264dec, (a) twice
#   tk      the best-class nodes, TopK ($R/*-old, OLD=6544d76) against ArgMax: model_only's
#           elements' run, 16 HEVC / H.264 streams, between two (a) runs
# Details go to $OUT/details.log, rows to $OUT/table.md, printed last.
#   bash pipelines/gpu-visit.sh setup a      then      bash pipelines/gpu-visit.sh setup b c check
set -uo pipefail
cd "$(dirname "$0")/.."
R=.device/run
OUT=${OUT:-/tmp/out}
M=/tmp/gpumodels
mkdir -p "$OUT"
. $R/gpu-env.sh "" $R/gst-runtime.tar.xz
export GST_DEBUG=${GST_DEBUG:-1} PYTHONPATH=/tmp/site YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg PYTHONUNBUFFERED=1
LOG=$OUT/details.log
TABLE=$OUT/table.md
[ -f "$TABLE" ] || printf '| case | result |\n| --- | --- |\n' > "$TABLE"
row() { echo "| $1 | $2 |" >> "$TABLE"; }
log() { echo "$*" >> "$LOG"; }
fps() { grep -o "$1=[0-9.]*" <<<"$2" | cut -d= -f2; }
prec() { if [ -n "$1" ]; then echo fp16; else echo fp32; fi; }
CLIP=$R/clip-1080p.mp4
DEC="filesrc location=$CLIP ! qtdemux ! h264parse ! nvh264dec"

setup() {
  [ -f $M/yolo11s-det-fp16.onnx ] && [ -f $M/yolo11s-det.onnx ] && return
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $R/*.whl || exit 1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$LOG"
  local t0=$SECONDS
  python3 pipelines/gpu_models.py $M >> "$OUT/export.log" 2>&1 || { tail -30 "$OUT/export.log"; exit 1; }
  log "setup: models exported in $((SECONDS - t0)) s"
}

section_a() {
  for m in yolo11n-det yolo11n-pose yolo11s-det; do
    for p in "" -fp16; do
      local r=()
      for b in 1 8 32; do
        line=$($R/model_only $M/$m$p.onnx cuda $b 640x384 $((b == 1 ? 400 : 100)) resident 2>&1 | tail -1)
        log "a) $line"; r+=("$(fps fps "$line")")
      done
      row "a) model only, $m $(prec "$p"), input resident on the GPU, 640x384, b1 / b8 / b32 fps" "${r[0]} / ${r[1]} / ${r[2]}"
    done
  done
  for p in "" -fp16; do
    local r=()
    for b in 1 8; do
      line=$($R/model_only $M/yolo11n-det$p.onnx cuda $b 640x384 400 resident-graph 2>&1 | tail -1)
      log "a) $line"; r+=("$(fps fps "$line")")
    done
    row "a) same, yolo11n-det $(prec "$p") as a CUDA graph, b1 / b8 fps" "${r[0]} / ${r[1]}"
  done
  line=$($R/model_only $M/yolo11n-det.onnx cuda 8 640x384 100 host 2>&1 | tail -1)
  log "a) $line"; row "a) yolo11n-det fp32 b8, float input fed from host memory" "$(fps fps "$line") fps"
  for p in "" -fp16; do
    for fmt in nv12 bgrx; do
      for b in 8 32; do
        line=$($R/graph_bench $M/yolo11n-det$p.onnx cuda $fmt 1920x1080 $b 30 8 2>&1 | tail -1)
        log "a) $line"
        row "a) preprocessing, 1080p $fmt, yolo11n-det $(prec "$p") b$b: host (8 workers) vs device, fps (device: ms per batch copying in / running)" "$(sed -E 's/.*= ([0-9]+) fps;.*= ([0-9]+) fps.*copy ([0-9.]+) ms, run ([0-9.]+) ms.*/\1 vs \2 (\3 \/ \4)/' <<<"$line")"
      done
    done
  done
}

# Runs one pipeline with GPU utilisation sampled and its CPU time taken; echoes
# "steady_fps (GPU util%, CPU cores busy on average over the whole run)".
pipe() {
  local name=$1; shift
  (nvidia-smi dmon -s u -d 1 > /tmp/dmon.txt 2>&1 &); sleep 0.3
  local TIMEFORMAT='%R %U %S'
  { time timeout 150 ${CVLAUNCH:-$R/cvlaunch} "$@" > /tmp/pipe.txt 2>&1; } 2> /tmp/time.txt
  local line; line=$(tail -1 /tmp/pipe.txt)
  pkill -f "nvidia-smi dmon" || true
  log "b) $name: $line (real user sys: $(cat /tmp/time.txt))"
  local util; util=$(awk '$1 ~ /^[0-9]+$/ && $2 > 0 {s+=$2; n++} END {if (n) printf "%.0f%%", s/n}' /tmp/dmon.txt)
  local cpu; cpu=$(awk 'NF == 3 && $1 > 0 {printf "%.1f", ($2 + $3) / $1}' /tmp/time.txt)
  echo "$(fps steady_fps "$line") fps (every stream at once: $(fps all_streams_fps "$line") fps over $(fps all_streams_s "$line") s of $(fps wall_s "$line") s; GPU ${util:-?} busy, ${cpu:-?} CPU cores)"
}

# Runs N copies of one pipeline, one process each, GPU and NVDEC load sampled; echoes the
# total steady rate. Usage: procs N NAME PIPELINE...
procs() {
  local n=$1 name=$2; shift 2
  (nvidia-smi dmon -s u -d 1 > /tmp/dmon.txt 2>&1 &); sleep 0.3
  rm -f /tmp/$name-*.txt
  local t0; t0=$(date +%s.%N)
  for i in $(seq $n); do timeout 200 $R/cvlaunch "$@" > /tmp/$name-$i.txt 2>&1 & done
  wait
  local t1; t1=$(date +%s.%N)
  pkill -f "nvidia-smi dmon" || true
  cat /tmp/$name-*.txt >> "$LOG"; cat /tmp/dmon.txt >> "$LOG"
  local total util frames
  total=$(grep -ho 'steady_fps=[0-9.]*' /tmp/$name-*.txt | cut -d= -f2 | awk '{s+=$1} END {printf "%.0f", s}')
  frames=$(grep -ho '^frames=[0-9]*' /tmp/$name-*.txt | cut -d= -f2 | awk '{s+=$1} END {print s + 0}')
  util=$(awk '$1 ~ /^[0-9]+$/ && $2 > 0 {s+=$2; d+=$5; n++} END {if (n) printf "SM %.0f%%, NVDEC %.0f%%", s/n, d/n}' /tmp/dmon.txt)
  # The sum of each process's steady rate counts processes that did not all run at once; the
  # frames over the wall time from the first start to the last end include their start-ups.
  echo "$total fps in total (${util:-GPU ?} busy; $frames frames in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s of wall time)"
}

# Batch-1 latency at the clip's real rate (60 fps: nothing queues): timingmeta ingress to egress
# around `yolodetect PROPS...` fed by SRC; echoes "median, p95" (the first 30 frames left out).
# Usage: latency "SRC" PROPS...
latency() {
  local src=$1; shift
  rm -f /tmp/lat.jsonl
  timeout 150 $R/cvlaunch $src ! identity sync=true ! timingmeta mode=ingress ! yolodetect "$@" \
    ! timingmeta mode=egress log-file=/tmp/lat.jsonl ! fakesink name=sink sync=false >> "$LOG" 2>&1
  python3 -c "
import json,statistics
v=[json.loads(l)['processing_ms'] for l in open('/tmp/lat.jsonl')][30:]
print(f'{statistics.median(v):.2f} ms median, p95 {sorted(v)[int(len(v)*.95)]:.2f} ms')"
}

section_b() {
  row "b) 1080p nvh264dec alone (one stream's decode ceiling)" "$(pipe decode $DEC ! fakesink name=sink)"
  for p in "" -fp16; do
    for b in 1 8 32; do
      row "b) nvh264dec -> yolodetect yolo11n $(prec "$p") b$b, preprocess=device" \
        "$(pipe "det$p b$b device" $DEC ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b preprocess=device ! fakesink name=sink)"
    done
    row "b) same, b32, preprocess=host (8 workers)" \
      "$(pipe "det$p b32 host" $DEC ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=32 preprocess=host ! fakesink name=sink)"
    row "b) nvh264dec -> yolodetect -> posedetect yolo11n $(prec "$p") b16, device" \
      "$(pipe "det+pose$p b16" $DEC ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=16 ! posedetect model=$M/yolo11n-pose$p.onnx execution-provider=cuda batch-size=16 ! fakesink name=sink)"
  done
  row "b) nvh264dec -> yolodetect yolo11s fp16 b32, device" \
    "$(pipe "s fp16 b32" $DEC ! yolodetect model=$M/yolo11s-det-fp16.onnx execution-provider=cuda batch-size=32 ! fakesink name=sink)"
  # Several streams, one process each (one NVDEC session per stream).
  for n in 4 8; do
    row "b) $n streams at once, yolo11n fp16 b32 device each" \
      "$(procs $n par$n $DEC ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32 ! fakesink name=sink)"
  done
  # Batch-1 latency against the model-only time of one frame.
  for p in "" -fp16; do
    lat=$(latency "$DEC" model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=1)
    model=$($R/model_only $M/yolo11n-det$p.onnx cuda 1 640x384 400 resident 2>&1 | tail -1)
    row "b) batch-1 latency, yolo11n $(prec "$p") device, paced 60 fps" "$lat (model alone $(fps ms_per_batch "$model") ms)"
  done
  err=$($R/cvlaunch videotestsrc num-buffers=2 ! yolodetect model=$M/yolo11n-det.onnx execution-provider=tensorrt trt-cache-dir=/tmp/trt ! fakesink name=sink 2>&1 | grep -m1 "cvlaunch:")
  log "tensorrt: $err"
  row "b) execution-provider=tensorrt (no TensorRT on this host)" "$(cut -c1-160 <<<"$err")"
}

# N copies of one chain, for one cvlaunch running N streams in one process.
# Usage: desc=$(streams N "SRC ! ... ! SINK")
streams() { local i; for i in $(seq "$1"); do printf ' %s' "$2"; done; }

section_c() {
  for args in "$M/yolo11n-det.pt" "$M/yolo11n-det.pt --half" "$M/yolo11n-det.pt $M/yolo11n-pose.pt --half"; do
    line=$(python3 pipelines/ultralytics_loop.py $CLIP $args --frames 300 2>>"$LOG" | tail -1)
    log "c) $args: $line"
    row "c) Python: cv2 read + ultralytics predict (torch, GPU) $(sed "s|$M/||g" <<<"$args")" "$(fps fps "$line") fps"
  done
}

section_check() {
  local clip="courtsrc seed=9004 players=4 num-buffers=30 ! video/x-raw,width=1920,height=1080 ! videoconvert ! video/x-raw,format=NV12"
  for c in "cpu host" "cuda host" "cuda device"; do
    set -- $c
    $R/cvlaunch --json /tmp/planted-$1-$2.jsonl videotestsrc num-buffers=6 pattern=smpte ! video/x-raw,width=640,height=480 \
      ! yolodetect model=tests/models/planted-det-raw-dyn.onnx execution-provider=$1 preprocess=$2 batch-size=4 \
      ! posedetect model=tests/models/planted-pose-e2e-dyn.onnx execution-provider=$1 preprocess=$2 ! fakesink name=sink >> "$LOG" 2>&1
    $R/cvlaunch --json /tmp/models-$1-$2.jsonl $clip \
      ! yolodetect model=models/courtvision-det.onnx execution-provider=$1 preprocess=$2 batch-size=8 \
      ! posedetect model=models/courtvision-pose.onnx execution-provider=$1 preprocess=$2 batch-size=8 ! fakesink name=sink >> "$LOG" 2>&1
  done
  $R/cvlaunch --json /tmp/models-cuda-fp16.jsonl $clip \
    ! yolodetect model=models/courtvision-det-fp16.onnx execution-provider=cuda batch-size=8 \
    ! posedetect model=models/courtvision-pose-fp16.onnx execution-provider=cuda batch-size=8 ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/planted-cpu-host.jsonl /tmp/planted-cuda-host.jsonl "c) planted models, CPU vs CUDA, host preprocessing" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/planted-cpu-host.jsonl /tmp/planted-cuda-device.jsonl "c) planted models, CPU vs CUDA, device preprocessing" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/models-cpu-host.jsonl /tmp/models-cuda-host.jsonl "c) default models on courtsrc 1080p NV12, CPU vs CUDA fp32, host" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/models-cpu-host.jsonl /tmp/models-cuda-device.jsonl "c) same, CPU host vs CUDA fp32 device preprocessing" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/models-cpu-host.jsonl /tmp/models-cuda-fp16.jsonl "c) same, CPU fp32 vs CUDA fp16 device preprocessing" >> "$TABLE"
}

# Where a batch's time goes on the device path: ONNX Runtime profiles of graph_bench runs.
section_p() {
  for p in "" -fp16; do
    rm -rf /tmp/prof && mkdir -p /tmp/prof
    COURTVISION_ORT_PROFILE=/tmp/prof $R/graph_bench $M/yolo11n-det$p.onnx cuda nv12 1920x1080 32 10 8 >> "$LOG" 2>&1
    echo "profile yolo11n-det $(prec "$p") nv12 1080p b32:" >> "$OUT/profile.txt"
    python3 pipelines/ort_profile_summary.py /tmp/prof/*.json >> "$OUT/profile.txt" 2>&1
  done
  cat "$OUT/profile.txt"
}

# Several streams in one process (one CUDA context: kernels of all streams may overlap), a
# queue after each decoder so decoding runs beside batching.
section_m() {
  for p in "" -fp16; do
    row "b) 1 stream, nvh264dec ! queue ! yolodetect yolo11n $(prec "$p") b32 device" \
      "$(pipe "q det$p b32" $DEC ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=32 ! fakesink name=sink)"
  done
  for n in 4 8; do
    desc=$(streams $n "$DEC ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=32 ! fakesink")
    row "b) $n streams in one process, each nvh264dec ! queue ! yolodetect yolo11n fp32 b32 device" "$(pipe "one process x$n" $desc)"
  done
}

# CUDA graphs in the element (cuda-graph=true): throughput, batch-1 latency, same detections.
section_g() {
  for p in "" -fp16; do
    for b in 1 8; do
      row "b) nvh264dec -> yolodetect yolo11n $(prec "$p") b$b device, cuda-graph=true" \
        "$(pipe "graph det$p b$b" $DEC ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b cuda-graph=true ! fakesink name=sink)"
    done
    lat=$(latency "$DEC" model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=1 cuda-graph=true)
    model=$($R/model_only $M/yolo11n-det$p.onnx cuda 1 640x384 400 resident-graph 2>&1 | tail -1)
    row "b) batch-1 latency, yolo11n $(prec "$p") device, cuda-graph=true, paced 60 fps" "$lat (model alone as a graph $(fps ms_per_batch "$model") ms)"
  done
  local clip="courtsrc seed=9004 players=4 num-buffers=30 ! video/x-raw,width=1920,height=1080 ! videoconvert ! video/x-raw,format=NV12"
  for ep in cpu cuda; do
    g=$([ $ep = cuda ] && echo true || echo false)
    $R/cvlaunch --json /tmp/graph-$ep.jsonl $clip ! yolodetect model=models/courtvision-det.onnx execution-provider=$ep batch-size=8 cuda-graph=$g \
      ! posedetect model=models/courtvision-pose.onnx execution-provider=$ep batch-size=8 cuda-graph=$g ! fakesink name=sink >> "$LOG" 2>&1
  done
  python3 pipelines/compare_detections.py /tmp/graph-cpu.jsonl /tmp/graph-cuda.jsonl "c) default models on courtsrc 1080p NV12, CPU vs CUDA with cuda-graph=true" >> "$TABLE"
}

# What bounds several streams: decoding alone, in one process and in one process each.
section_d() {
  desc=$(streams 8 "$DEC ! fakesink")
  row "b) 8 x nvh264dec alone in one process" "$(pipe "decode x8 one process" $desc)"
  row "b) 8 x nvh264dec alone, one process each" "$(procs 8 dec8 $DEC ! fakesink name=sink)"
  row "b) 8 streams, one process each, yolo11n fp32 b8 cuda-graph=true" \
    "$(procs 8 g8 $DEC ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 cuda-graph=true ! fakesink name=sink)"
}

# Frames in CUDA memory: nvh264dec decodes into the model's CUDA context (the elements share it)
# and the elements copy each frame device to device into the batch.
CUDA="video/x-raw(memory:CUDAMemory)"
SYS="video/x-raw(memory:SystemMemory)"
# The minute-long 1080p clip (H.264; HEVC) decoded by NVDEC into CUDA memory, the queue the
# sections of many streams put after it, and yolo11n fp16 b32 on CUDA.
H264="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec ! $CUDA"
H265="filesrc location=$R/clip-1080p-long-hevc.mp4 ! qtdemux ! h265parse ! nvh265dec ! $CUDA"
Q="queue max-size-buffers=64"
DET16="yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32"
section_u() {
  row "u) 1080p nvh264dec alone, CUDA memory out" "$(pipe "decode cuda" $DEC ! "$CUDA" ! fakesink name=sink)"
  for p in "" -fp16; do
    for b in 1 8 32; do
      row "u) nvh264dec -> CUDA memory -> yolodetect yolo11n $(prec "$p") b$b" \
        "$(pipe "cuda det$p b$b" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b ! fakesink name=sink)"
    done
  done
  row "u) same, yolo11n fp32 b8, host memory forced (for comparison)" \
    "$(pipe "sys det b8" $DEC ! "$SYS" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 ! fakesink name=sink)"
  for b in 1 8; do
    row "u) CUDA memory, yolo11n fp32 b$b, cuda-graph=true" \
      "$(pipe "cuda graph b$b" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=$b cuda-graph=true ! fakesink name=sink)"
  done
  row "u) CUDA memory, yolodetect -> posedetect yolo11n fp16 b16" \
    "$(pipe "cuda det+pose" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=16 ! posedetect model=$M/yolo11n-pose-fp16.onnx execution-provider=cuda batch-size=16 ! fakesink name=sink)"
  # Several streams of the minute-long clip: in one process (the elements share the CUDA
  # context), and one process each.
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  for c in "4 0" "8 0" "8 1"; do
    set -- $c
    desc=$(streams $1 "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32 intra-threads=$2 ! fakesink")
    row "u) $1 streams in one process, CUDA memory, yolo11n fp16 b32, intra-threads=$2" "$(pipe "cuda one process x$1 intra $2" $desc)"
  done
  row "u) 8 x nvh264dec alone, CUDA memory, one process each" "$(procs 8 dec $long ! "$CUDA" ! fakesink name=sink)"
  for n in 8 12 16; do
    row "u) $n streams, one process each, CUDA memory, yolo11n fp16 b32" \
      "$(procs $n cpar$n $long ! "$CUDA" ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32 ! fakesink name=sink)"
  done
  for g in false true; do
    lat=$(latency "$DEC ! $CUDA" model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=1 cuda-graph=$g)
    row "u) batch-1 latency, CUDA memory, yolo11n fp32, cuda-graph=$g, paced 60 fps" "$lat"
  done
  # The same detections: default models on a courtsrc match decoded by nvh264dec.
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local both="yolodetect model=models/courtvision-det.onnx batch-size=8 ! posedetect model=models/courtvision-pose.onnx batch-size=8"
  $R/cvlaunch --json /tmp/u-cuda.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  $R/cvlaunch --json /tmp/u-graph.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda cuda-graph=true} ! fakesink name=sink >> "$LOG" 2>&1
  $R/cvlaunch --json /tmp/u-sys.jsonl $m ! "$SYS" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  $R/cvlaunch --json /tmp/u-cpu.jsonl $m ! "$SYS" ! ${both//batch-size=8/batch-size=8 execution-provider=cpu} ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/u-sys.jsonl /tmp/u-cuda.jsonl "u) default models on a courtsrc match (H.264 1080p), CUDA: host memory vs CUDA memory" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/u-cuda.jsonl /tmp/u-graph.jsonl "u) same, CUDA memory, without vs with cuda-graph" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/u-cpu.jsonl /tmp/u-cuda.jsonl "u) same, CPU (host memory) vs CUDA (CUDA memory)" >> "$TABLE"
}

# How far one process scales: more streams of the minute-long clip, CUDA memory. Each case is
# "streams precision batch" (precision "" or -fp16).
one_process() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec ${DECPROPS:-}"
  for c in "$@"; do
    set -- $c
    local n=$1 p=${3:+$2} b=${3:-$2}
    desc=$(streams $n "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b ${PROPS:-} ! fakesink")
    row "s) $n streams in one process, CUDA memory, yolo11n $(prec "$p") b$b${PROPS:+ $PROPS}${DECPROPS:+, nvh264dec $DECPROPS}${CUDA_DEVICE_MAX_CONNECTIONS:+, CUDA_DEVICE_MAX_CONNECTIONS=$CUDA_DEVICE_MAX_CONNECTIONS}${COURTVISION_CUDA_SYNC:+, COURTVISION_CUDA_SYNC=$COURTVISION_CUDA_SYNC}" "$(pipe "cuda one process x$n $p b$b" $desc)"
  done
}
section_s() { one_process "12 -fp16 32" "16 -fp16 32" "16 32" "16 -fp16 16"; }
# The same at the small batches, against (a) at the same batch and precision.
section_r() { one_process "12 1" "12 8" "12 -fp16 8"; }
# The one-process cases measured again (after a change to the elements' host side).
section_t() { one_process "8 -fp16 32" "12 -fp16 32"; }

# cuda-graph with frames in CUDA memory: throughput, batch-1 latency, several streams in one
# process, and the same detections as without.
section_gc() {
  for b in 1 8; do
    row "gc) CUDA memory, yolo11n fp32 b$b, cuda-graph=true" \
      "$(pipe "gc b$b" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=$b cuda-graph=true ! fakesink name=sink)"
  done
  for mem in "$CUDA" "$SYS"; do
    lat=$(latency "$DEC ! $mem" model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=1 cuda-graph=true)
    row "gc) batch-1 latency, $mem, yolo11n fp32, cuda-graph=true, paced 60 fps" "$lat"
  done
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  desc=$(streams 8 "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 cuda-graph=true ! fakesink")
  row "gc) 8 streams in one process, CUDA memory, yolo11n fp32 b8, cuda-graph=true" "$(pipe "gc x8" $desc)"
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec"
  for g in false true; do
    timeout 150 $R/cvlaunch --json /tmp/gc-$g.jsonl $m ! "$CUDA" ! yolodetect model=models/courtvision-det.onnx batch-size=8 execution-provider=cuda cuda-graph=$g \
      ! posedetect model=models/courtvision-pose.onnx batch-size=8 execution-provider=cuda cuda-graph=$g ! fakesink name=sink >> "$LOG" 2>&1
  done
  python3 pipelines/compare_detections.py /tmp/gc-false.jsonl /tmp/gc-true.jsonl "gc) default models on the courtsrc match, CUDA memory, without vs with cuda-graph" >> "$TABLE"
}

# Where a batch-1 frame's time goes: the latency run again with ONNX Runtime profiles and the
# element's per-batch trace; echoes median ms of the element's batch (engine part) and of each
# session's run. Usage: breakdown "SRC" PROPS...
breakdown() {
  local src=$1; shift
  rm -rf /tmp/prof /tmp/gst.log && mkdir -p /tmp/prof
  GST_DEBUG=cvdetector:7 GST_DEBUG_FILE=/tmp/gst.log COURTVISION_ORT_PROFILE=/tmp/prof \
    timeout 150 $R/cvlaunch $src ! identity sync=true ! yolodetect "$@" ! fakesink name=sink sync=false >> "$LOG" 2>&1
  python3 - /tmp/gst.log /tmp/prof <<'PY'
import glob, json, re, statistics, sys
unit = {"ns": 1e-6, "µs": 1e-3, "ms": 1.0, "s": 1e3}
batch, engine = [], []
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"ran in ([\d.]+)(ns|µs|ms|s) \(engine ([\d.]+)(ns|µs|ms|s)\)", line)
    if m:
        batch.append(float(m[1]) * unit[m[2]]); engine.append(float(m[3]) * unit[m[4]])
parts = [f"batch {statistics.median(batch[30:]):.2f} ms (engine {statistics.median(engine[30:]):.2f})"] if len(batch) > 30 else ["no trace"]
for f in sorted(glob.glob(sys.argv[2] + "/*.json")):
    runs = [e["dur"] / 1000 for e in json.load(open(f)) if e.get("name") == "model_run"][30:]
    if runs:
        parts.append(f"{f.split('/')[-1].split('_')[0]} run {statistics.median(runs):.2f}")
print(", ".join(parts))
PY
}

# After the best-class output (per anchor only the best class crosses to the host and is
# scanned there): batch-1 latency and where it goes, one stream, several in one process, and
# the same detections from the best-class output as from every class row.
section_bc() { section_bl; section_bt; section_bk; }
section_bl() {
  for g in false true; do
    for p in "" -fp16; do
      local props="model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=1 cuda-graph=$g"
      lat=$(latency "$DEC ! $CUDA" $props)
      row "bc) batch-1 latency, CUDA memory, yolo11n $(prec "$p"), cuda-graph=$g, paced 60 fps" "$lat; $(breakdown "$DEC ! $CUDA" $props)"
    done
  done
  for p in "" -fp16; do
    for m in "" -graph; do
      model=$($R/model_only $M/yolo11n-det$p.onnx cuda 1 640x384 400 resident$m 2>&1 | tail -1)
      row "bc) model alone, yolo11n $(prec "$p") b1, resident$m" "$(fps ms_per_batch "$model") ms"
    done
  done
}
# One stream, nvh264dec -> CUDA memory -> yolodetect, per case "precision:batch" (precision ""
# or -fp16). Usage: one_stream TAG CASES...
one_stream() {
  local tag=$1 c; shift
  for c in "$@"; do
    local p=${c%:*} b=${c#*:}
    row "$tag) one stream, nvh264dec -> CUDA memory -> yolodetect yolo11n $(prec "$p") b$b" \
      "$(pipe "$tag det$p b$b" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b ! fakesink name=sink)"
  done
}
section_bt() {
  one_stream bc -fp16:32 :32 :8 -fp16:8
  one_process "12 -fp16 32" "16 32" "12 8" "12 -fp16 8"
}
section_bk() {
  # yolo11n (80 classes) on the courtsrc match: CPU vs CUDA, and the best-class output vs every
  # class row (a class filter naming every class reads those).
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local all=$(seq -s, 0 79)
  local det="yolodetect model=$M/yolo11n-det.onnx batch-size=8 conf-threshold=0.00003"
  timeout 300 $R/cvlaunch --json /tmp/bc-cpu.jsonl $m ! "$SYS" ! $det execution-provider=cpu ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/bc-cuda.jsonl $m ! "$CUDA" ! $det execution-provider=cuda ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/bc-all.jsonl $m ! "$CUDA" ! $det execution-provider=cuda classes=$all ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/bc-cpu.jsonl /tmp/bc-cuda.jsonl "bc) yolo11n fp32 (random weights: scores below 2e-4, conf 3e-5) on the courtsrc match, CPU vs CUDA memory + best-class output" >> "$TABLE"
  timeout 150 $R/cvlaunch --json /tmp/bc-graph.jsonl $m ! "$CUDA" ! $det execution-provider=cuda cuda-graph=true ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/bc-all.jsonl /tmp/bc-cuda.jsonl "bc) same on CUDA, every class row (classes=0..79) vs best-class output" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/bc-cuda.jsonl /tmp/bc-graph.jsonl "bc) same on CUDA, without vs with cuda-graph (preprocessing and model replayed)" >> "$TABLE"
  # fp16: the best-class nodes cast the class ids to float16 and the rows to float32.
  local det16="yolodetect model=$M/yolo11n-det-fp16.onnx batch-size=8 conf-threshold=0.00003 execution-provider=cuda"
  timeout 150 $R/cvlaunch --json /tmp/bc-16.jsonl $m ! "$CUDA" ! $det16 ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/bc-16all.jsonl $m ! "$CUDA" ! $det16 classes=$all ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/bc-16graph.jsonl $m ! "$CUDA" ! $det16 cuda-graph=true ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/bc-16all.jsonl /tmp/bc-16.jsonl "bc) yolo11n fp16 on CUDA, every class row vs best-class output" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/bc-16.jsonl /tmp/bc-16graph.jsonl "bc) yolo11n fp16 on CUDA, without vs with cuda-graph" >> "$TABLE"
}

# What bounds one process with many streams: decoding alone into CUDA memory (the ceiling of
# the pipeline), and the same streams with cuda-graph=true.
section_dn() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  for n in 12 16; do
    desc=$(streams $n "$long ! $CUDA ! queue max-size-buffers=64 ! fakesink")
    row "dn) $n x nvh264dec alone in one process, CUDA memory" "$(pipe "decode x$n cuda one process" $desc)"
  done
  for c in 12:8 12:32; do
    local n=${c%:*} b=${c#*:}
    desc=$(streams $n "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=$b cuda-graph=true ! fakesink")
    row "dn) $n streams in one process, CUDA memory, yolo11n fp16 b$b, cuda-graph=true" "$(pipe "graph x$n b$b" $desc)"
  done
}

# Decoding under inference load: 12 decoders in one process, CUDA memory, while another
# process runs yolo11n fp16 b32 model-only back to back (is the pipeline bound by the decoders
# slowing down beside the model?).
section_dl() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  desc=$(streams 12 "$long ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  $R/model_only $M/yolo11n-det-fp16.onnx cuda 32 640x384 6000 resident > /tmp/load.txt 2>&1 &
  local load=$!
  sleep 8
  row "dl) 12 x nvh264dec alone in one process, CUDA memory, beside a model-only fp16 b32 loop" "$(pipe "decode x12 under load" $desc)"
  kill $load 2>/dev/null; wait $load 2>/dev/null
}

# Hardware work queues: CUDA maps a context's streams onto CUDA_DEVICE_MAX_CONNECTIONS queues
# (8 by default), so with a decoder, a copier and a model per stream, a decoder's small kernels
# can wait behind another stream's model in the same queue. The one-process runs with 32.
section_mc() {
  one_process "12 32"
  (export CUDA_DEVICE_MAX_CONNECTIONS=32; one_process "12 -fp16 32" "12 32" "16 32")
}

# Where a decoder's time goes with and without the models beside it in one process: the latency
# tracer's per-element time of each nvh264dec (buffer in to buffer out), 12 streams of the
# 600-frame clip, decoders alone against decoders feeding yolodetect fp16 b32.
section_dt() {
  for c in alone det; do
    local tail="fakesink"
    [ $c = det ] && tail="yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32 ! fakesink"
    desc=$(streams 12 "$DEC ! $CUDA ! queue max-size-buffers=64 ! $tail")
    rm -f /tmp/trace.log
    GST_PLUGIN_PATH=$R/tracers:${GST_PLUGIN_PATH:-} \
      GST_TRACERS="latency(flags=element)" GST_DEBUG=GST_TRACER:7 GST_DEBUG_FILE=/tmp/trace.log \
      timeout 150 $R/cvlaunch $desc >> "$LOG" 2>&1
    row "dt) 12 streams in one process, decoders $c: nvh264dec time per frame (latency tracer)" "$(python3 - /tmp/trace.log <<'PY'
import re, statistics, sys
t = [int(m[1]) / 1e6 for m in re.finditer(r"element=\(string\)nvh264dec-?\d+.*?time=\(guint64\)(\d+)", open(sys.argv[1], errors="replace").read())]
t = sorted(t)
print(f"median {statistics.median(t):.2f} ms, p90 {t[int(len(t) * .9)]:.2f} ms over {len(t)} frames" if t else "no trace")
PY
)"
  done
}

# Decoders and a model in separate processes (separate CUDA contexts, time-sliced): the
# model-only fp32 b32 rate alone and while 12 decoders run in another process, back to back,
# and the decoders' rate meanwhile. Would decoding in a context of its own pay?
section_dx() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local alone
  alone=$($R/model_only $M/yolo11n-det.onnx cuda 32 640x384 1500 resident 2>&1 | tail -1)
  desc=$(streams 12 "$long ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  rm -f /tmp/dx-*.txt
  (for k in 1 2 3 4; do timeout 60 $R/cvlaunch $desc > /tmp/dx-$k.txt 2>&1; done) &
  local decoders=$!
  sleep 3
  local loaded
  loaded=$($R/model_only $M/yolo11n-det.onnx cuda 32 640x384 3000 resident 2>&1 | tail -1)
  kill $decoders 2>/dev/null; pkill -f clip-1080p-long 2>/dev/null; wait 2>/dev/null
  cat /tmp/dx-*.txt >> "$LOG"
  row "dx) model-only yolo11n fp32 b32 alone / beside 12 decoders in another process; the decoders meanwhile" \
    "$(fps fps "$alone") / $(fps fps "$loaded") fps; decoders $(grep -ho 'steady_fps=[0-9.]*' /tmp/dx-*.txt | cut -d= -f2 | tr '\n' ' ')fps per run"
}

# How threads wait for the GPU (COURTVISION_CUDA_SYNC sets the primary context's scheduling
# flags): by default the driver spins (one context, fewer than the cores), and a process with
# 12 streams has decoders, copies and models waiting on some 40 threads against 16 cores.
section_cs() {
  one_process "12 -fp16 32" "12 32"
  local mode
  for mode in blocking yield; do
    (export COURTVISION_CUDA_SYNC=$mode; one_process "12 -fp16 32" "12 32")
  done
  for mode in spin blocking; do
    row "cs) one stream, CUDA memory, yolo11n fp32 b8, COURTVISION_CUDA_SYNC=$mode" \
      "$(COURTVISION_CUDA_SYNC=$mode pipe "cs one $mode" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 ! fakesink name=sink)"
    row "cs) batch-1 latency, CUDA memory, yolo11n fp32, cuda-graph=true, COURTVISION_CUDA_SYNC=$mode" \
      "$(COURTVISION_CUDA_SYNC=$mode latency "$DEC ! $CUDA" model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=1 cuda-graph=true)"
    row "cs) model only, yolo11n fp32 b32 resident, COURTVISION_CUDA_SYNC=$mode" \
      "$(fps fps "$(COURTVISION_CUDA_SYNC=$mode $R/model_only $M/yolo11n-det.onnx cuda 32 640x384 100 resident 2>&1 | tail -1)") fps"
  done
}

# The letterbox kernel (frames in CUDA memory letterboxed straight into the model's input
# batch, no preprocessing run): against the CPU letterbox, its cost per batch against the
# preprocessing graph's, the pipelines, and the same detections.
section_lk() {
  $R/letterbox_check > /tmp/lk.txt 2>&1; cat /tmp/lk.txt >> "$LOG"
  row "lk) letterbox kernel vs CPU letterbox: 6 formats x 4 geometries x f32/f16" \
    "$(grep -c ' ok$' /tmp/lk.txt) ok, $(grep -c FAILED /tmp/lk.txt) failed, worst $(grep -o 'difference [0-9.e+-]*' /tmp/lk.txt | cut -d' ' -f2 | sort -g | tail -1); $(tail -1 /tmp/lk.txt)"
  local p b k g
  for p in "" -fp16; do
    for b in 1 8 32; do
      k=$($R/graph_bench $M/yolo11n-det$p.onnx cuda nv12 1920x1080 $b 30 8 2>&1 | tail -1)
      g=$(COURTVISION_LETTERBOX_KERNEL=0 $R/graph_bench $M/yolo11n-det$p.onnx cuda nv12 1920x1080 $b 30 8 2>&1 | tail -1)
      model=$($R/model_only $M/yolo11n-det$p.onnx cuda $b 640x384 100 resident 2>&1 | tail -1)
      log "lk) $k"; log "lk) graph: $g"; log "lk) $model"
      row "lk) yolo11n $(prec "$p") b$b, 1080p NV12 in device memory, per batch: kernel fill + run / graph fill + run / model alone" \
        "$(grep -o 'fill + run [0-9.]*' <<<"$k" | cut -d' ' -f4) / $(grep -o 'fill + run [0-9.]*' <<<"$g" | cut -d' ' -f4) / $(fps ms_per_batch "$model") ms"
    done
  done
  one_stream lk -fp16:32 :32 :8
  one_process "12 -fp16 32" "12 32" "16 32" "12 8"
}
section_lc() {
  one_process "16 -fp16 32" "20 32" "8 32"
  local p
  for p in "" -fp16; do
    local props="model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=1 cuda-graph=true"
    row "lk) batch-1 latency, CUDA memory, yolo11n $(prec "$p"), cuda-graph=true, paced 60 fps" "$(latency "$DEC ! $CUDA" $props); $(breakdown "$DEC ! $CUDA" $props)"
  done
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local both="yolodetect model=models/courtvision-det.onnx batch-size=8 ! posedetect model=models/courtvision-pose.onnx batch-size=8"
  timeout 150 $R/cvlaunch --json /tmp/lk-cpu.jsonl $m ! "$SYS" ! ${both//batch-size=8/batch-size=8 execution-provider=cpu} ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/lk-kernel.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  COURTVISION_LETTERBOX_KERNEL=0 timeout 150 $R/cvlaunch --json /tmp/lk-graph.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/lk-cg.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda cuda-graph=true} ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/lk-cpu.jsonl /tmp/lk-kernel.jsonl "lk) default models on the courtsrc match, CPU vs CUDA memory + letterbox kernel" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/lk-graph.jsonl /tmp/lk-kernel.jsonl "lk) same on CUDA, preprocessing graph vs letterbox kernel" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/lk-kernel.jsonl /tmp/lk-cg.jsonl "lk) same, letterbox kernel without vs with cuda-graph" >> "$TABLE"
  local det="yolodetect model=$M/yolo11n-det-fp16.onnx batch-size=8 conf-threshold=0.00003"
  timeout 300 $R/cvlaunch --json /tmp/lk-ycpu.jsonl $m ! "$SYS" ! ${det/-fp16/} execution-provider=cpu ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/lk-y.jsonl $m ! "$CUDA" ! ${det/-fp16/} execution-provider=cuda ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/lk-y16.jsonl $m ! "$CUDA" ! $det execution-provider=cuda ! fakesink name=sink >> "$LOG" 2>&1
  COURTVISION_LETTERBOX_KERNEL=0 timeout 150 $R/cvlaunch --json /tmp/lk-y16g.jsonl $m ! "$CUDA" ! $det execution-provider=cuda ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/lk-ycpu.jsonl /tmp/lk-y.jsonl "lk) yolo11n fp32 (conf 3e-5) on the match, CPU vs CUDA memory + letterbox kernel" >> "$TABLE"
  python3 pipelines/compare_detections.py /tmp/lk-y16g.jsonl /tmp/lk-y16.jsonl "lk) yolo11n fp16 on CUDA, preprocessing graph vs letterbox kernel" >> "$TABLE"
}

# (b) against (a) at b32 in one visit: the model alone, then 12 and 16 streams twice each and
# with cuda-graph=true; one stream twice; the Python loop.
section_lv() {
  local p
  for p in "" -fp16; do
    row "lv) model only, yolo11n $(prec "$p") b32 resident" "$(fps fps "$($R/model_only $M/yolo11n-det$p.onnx cuda 32 640x384 300 resident 2>&1 | tail -1)") fps"
  done
  one_process "16 32" "12 32" "16 32" "16 -fp16 32" "12 -fp16 32"
  PROPS=cuda-graph=true one_process "16 32" "16 -fp16 32"
  local k
  for k in 1 2; do
    row "lv) one stream, nvh264dec -> CUDA memory -> yolodetect yolo11n fp32 b8 (run $k)" \
      "$(pipe "lv one $k" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 ! fakesink name=sink)"
  done
  section_c
}

# A short check of a build on the GPU: the kernel against the CPU, one stream, twelve, and the
# default models' detections on CPU and CUDA memory.
section_smoke() {
  $R/letterbox_check > /tmp/lk.txt 2>&1; cat /tmp/lk.txt >> "$LOG"
  row "smoke) letterbox kernel vs CPU letterbox" "$(grep -c ' ok$' /tmp/lk.txt) ok, $(grep -c FAILED /tmp/lk.txt) failed; $(tail -1 /tmp/lk.txt)"
  row "smoke) one stream, CUDA memory, yolo11n fp32 b8" \
    "$(pipe "smoke one" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det.onnx execution-provider=cuda batch-size=8 ! fakesink name=sink)"
  one_process "12 -fp16 32"
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local both="yolodetect model=models/courtvision-det.onnx batch-size=8 ! posedetect model=models/courtvision-pose.onnx batch-size=8"
  timeout 150 $R/cvlaunch --json /tmp/sm-cpu.jsonl $m ! "$SYS" ! ${both//batch-size=8/batch-size=8 execution-provider=cpu} ! fakesink name=sink >> "$LOG" 2>&1
  timeout 150 $R/cvlaunch --json /tmp/sm-cuda.jsonl $m ! "$CUDA" ! ${both//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  python3 pipelines/compare_detections.py /tmp/sm-cpu.jsonl /tmp/sm-cuda.jsonl "smoke) default models on the courtsrc match, CPU vs CUDA memory + letterbox kernel" >> "$TABLE"
}

# Where the elements' time goes while every stream runs (cvlaunch's all-streams span, from
# /tmp/pipe.txt; each batch's timing line, GST_DEBUG=cvdetector:5 into /tmp/st.txt), and what
# their start-up cost (model loads, first batches).
stats() {
  python3 - /tmp/st.txt /tmp/pipe.txt <<'PY'
import re, sys
span = re.search(r"from_ns=(\d+) to_ns=(\d+)", open(sys.argv[2], errors="replace").read())
t0, t1 = (int(span.group(1)), int(span.group(2))) if span else (0, 1 << 62)
rows, loads, first = [], [], {}
for l in open(sys.argv[1], errors="replace"):
    if "load_ms=" in l:
        loads.append(float(re.search(r"load_ms=([0-9.]+)", l).group(1)))
    if "batch timing:" in l:
        el = re.search(r"<([^>]+)>", l).group(1)
        if el not in first:
            first[el] = float(re.search(r"engine_ms=([0-9.]+)", l).group(1))
        r = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([0-9.]+)", l.split("batch timing:", 1)[1]))
        r["el"] = el
        if t0 <= r["end_ns"] <= t1:
            rows.append(r)
if not rows:
    print("no batch timings in the span"); sys.exit()
s = (t1 - t0) / 1e9
els = len({r["el"] for r in rows})
f = sum(r["frames"] for r in rows)
# Medians: batches queued behind the start-up of the others end inside the span with seconds
# of waiting in them.
med = lambda k: sorted(r[k] for r in rows)[len(rows) // 2]
# Each run's overlap with the span.
busy = sum(max(0, min(r["end_ns"], t1) - max(r["end_ns"] - r["run_ms"] * 1e6, t0)) for r in rows) / 1e9 / (s * els)
# Shared engines run queued batches of several elements together (engine_frames).
ef = f" (runs of {med('engine_frames'):.0f} frames)" if all("engine_frames" in r for r in rows) else ""
print(f"{els} elements, {f / s:.0f} fps in {s:.1f} s; per batch (median): fill {med('fill_ms'):.1f} ms, "
      f"worker idle {med('idle_ms'):.1f} ms, engine {med('engine_ms'):.1f} ms{ef}, run {med('run_ms'):.1f} ms; "
      f"workers busy {busy:.0%}; start-up: model loads {sum(loads) / 1e3:.1f} s in all (longest {max(loads or [0]) / 1e3:.1f} s), "
      f"first batches' engine {sum(first.values()) / 1e3:.1f} s in all")
PY
}

# one_process CASE with each element's batch timings logged (GST_DEBUG=cvdetector:5 into
# /tmp/st.txt), then where their time went (stats) and, with a third argument, the start-up
# (timeline). Usage: timed TAG CASE [timeline]; DECPROPS / PROPS as for one_process.
timed() {
  rm -f /tmp/st.txt
  (export GST_DEBUG=cvdetector:5 GST_DEBUG_FILE=/tmp/st.txt; one_process "$2")
  [ -z "${3:-}" ] || row "$1) ... start-up" "$(timeline)"
  row "$1) ... where the time went" "$(stats)"
}

# A row for `pipe NAME PIPELINE...` with each element's batch timings logged (into /tmp/st.txt),
# then where their time went. Usage: timed_pipe TAG LABEL NAME PIPELINE...
timed_pipe() {
  local tag=$1 label=$2; shift 2
  rm -f /tmp/st.txt
  row "$label" "$(export GST_DEBUG=cvdetector:5 GST_DEBUG_FILE=/tmp/st.txt; pipe "$@")"
  row "$tag) ... where the time went" "$(stats)"
}

# (b) against (a) at b32 while every stream runs (cvlaunch's all-streams rate: from the last
# stream's first frame to the first one's end; the steady rate also counts the start-up of the
# late streams and the tail where the early ones have finished), each run's batch timings.
section_wv() {
  local p c
  for p in "" -fp16; do
    row "wv) model only, yolo11n $(prec "$p") b32 resident" "$(fps fps "$($R/model_only $M/yolo11n-det$p.onnx cuda 32 640x384 300 resident 2>&1 | tail -1)") fps"
  done
  for c in "16 32" "16 -fp16 32" "12 32" "12 -fp16 32" "16 32" "16 -fp16 32"; do
    timed wv "$c"
  done
}

# yolodetect -> posedetect with the letterbox kernel: one stream, and several in one process.
section_dp() {
  local c
  for c in "-fp16 16" " 8"; do
    set -- $c
    local p=${2:+$1} b=${2:-$1}
    row "dp) one stream, CUDA memory, yolodetect -> posedetect yolo11n $(prec "$p") b$b" \
      "$(pipe "dp one $p $b" $DEC ! "$CUDA" ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b ! posedetect model=$M/yolo11n-pose$p.onnx execution-provider=cuda batch-size=$b ! fakesink name=sink)"
  done
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec" n
  for n in 8 12; do
    desc=$(streams $n "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=32 ! posedetect model=$M/yolo11n-pose-fp16.onnx execution-provider=cuda batch-size=32 ! fakesink")
    row "dp) $n streams in one process, CUDA memory, yolodetect -> posedetect yolo11n fp16 b32" "$(pipe "dp x$n" $desc)"
  done
}

# Streams spread over processes (P processes of S streams each, every process its own CUDA
# context, decoders waiting beside their own process's models only), minute-long clip.
# Each case is "P S precision batch" (precision "" or -fp16).
section_mp() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec" c
  for c in "2 6 -fp16 32" "3 4 -fp16 32" "4 3 -fp16 32" "2 6 32" "3 4 32"; do
    set -- $c
    local n=$1 k=$2 p=${4:+$3} b=${4:-$3}
    desc=$(streams $k "$long ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$M/yolo11n-det$p.onnx execution-provider=cuda batch-size=$b ! fakesink")
    row "mp) $n processes x $k streams, CUDA memory, yolo11n $(prec "$p") b$b${COURTVISION_CUDA_SYNC:+, COURTVISION_CUDA_SYNC=$COURTVISION_CUDA_SYNC}" "$(procs $n mp $desc)"
  done
}

# The Python loop several times at once (one process per stream, as one would scale it): the
# sum of each loop's rate, N loops over the minute-long clip's first 1200 frames.
section_cn() {
  local n i
  for n in 4 12; do
    rm -f /tmp/cn-*.txt
    for i in $(seq $n); do
      python3 pipelines/ultralytics_loop.py $R/clip-1080p-long.mp4 $M/yolo11n-det.pt --frames 1200 > /tmp/cn-$i.txt 2>>"$LOG" &
    done
    wait
    cat /tmp/cn-*.txt >> "$LOG"
    row "cn) $n Python loops at once (cv2 + ultralytics, yolo11n fp32), sum of their rates" \
      "$(grep -ho 'fps=[0-9.]*' /tmp/cn-*.txt | cut -d= -f2 | awk '{s+=$1; n++} END {printf "%.0f fps from %d loops", s, n}')"
  done
}

# What caps decoding: is it the NVDEC engines (then more sessions, processes or fewer pixels
# per frame change nothing / scale with pixels) or the per-frame path through nvh264dec in one
# process? Decoders alone into CUDA memory: 16 in one process against 16 processes of one each
# (1080p), 24 in one process, and 16 at 720p in one process (2.25x fewer pixels a frame).
section_dc() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  local l720="filesrc location=$R/clip-720p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  desc=$(streams 16 "$long ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  row "dc) 16 x nvh264dec alone in one process, 1080p, CUDA memory" "$(pipe "dc x16 one process" $desc)"
  row "dc) 16 x nvh264dec alone, one process each, 1080p, CUDA memory" "$(procs 16 dc $long ! "$CUDA" ! fakesink name=sink)"
  desc=$(streams 24 "$long ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  row "dc) 24 x nvh264dec alone in one process, 1080p, CUDA memory" "$(pipe "dc x24 one process" $desc)"
  desc=$(streams 16 "$l720 ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  row "dc) 16 x nvh264dec alone in one process, 720p, CUDA memory" "$(pipe "dc x16 720p" $desc)"
  row "dc) 16 x nvh264dec alone, one process each, 720p, CUDA memory" "$(procs 16 dc7 $l720 ! "$CUDA" ! fakesink name=sink)"
}

# Models loading side by side, on the GPU: 16 streams fp32 and fp16 b32 once each, with the
# elements' load times and first batches (stats) and the wall time against the all-streams span.
section_wl() {
  local c
  for c in "16 32" "16 -fp16 32"; do
    timed wl "$c"
  done
}

# nvh264dec's max-display-delay (frames decoded ahead of the one handed on; auto is 0 when
# live, a small number otherwise): one decoder alone, 16 alone in one process, and 16 streams
# fp16 b32 — do more frames in flight per session keep the NVDEC engines fed while a session's
# map and copy wait behind the models?
section_dd() {
  local d long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec"
  for d in -1 0 8; do
    row "dd) one nvh264dec alone, CUDA memory, max-display-delay=$d" "$(pipe "dd one $d" $DEC max-display-delay=$d ! "$CUDA" ! fakesink name=sink)"
  done
  desc=$(streams 16 "$long max-display-delay=8 ! $CUDA ! queue max-size-buffers=64 ! fakesink")
  row "dd) 16 x nvh264dec alone in one process, CUDA memory, max-display-delay=8" "$(pipe "dd x16 8" $desc)"
  for d in 8 16; do
    DECPROPS="max-display-delay=$d" timed dd "16 -fp16 32"
  done
}

# Where the start-up of many streams goes, on the log's clock (seconds since GStreamer started):
# each element's model load; when its first and second batches began (the element's "batch of
# N" line: the second begins once its streaming thread gets past the first run, as letterboxing
# waits out other engines' first runs, see engine.rs GPU_RUNS); the first batch's engine time
# (with the wait for the first-run lock). A batch's timing line comes after its frames are
# pushed, and the first ones wait there for every sink to preroll.
timeline() {
  python3 - /tmp/st.txt <<'PY'
import re, sys
t = lambda l: sum(float(x) * m for x, m in zip(l.split()[0].split(":"), (3600, 60, 1)))
loaded, begun, engine = {}, {}, {}
for l in open(sys.argv[1], errors="replace"):
    el = re.search(r"<([^>:]+)[>:]", l)
    if not el or not re.match(r"\d+:\d+:[\d.]+ ", l):
        continue
    el = el.group(1)
    if "load_ms=" in l:
        loaded[el] = t(l)
    if re.search(r"batch of \d+: ", l):
        begun.setdefault(el, []).append(t(l))
    if "batch timing:" in l and el not in engine:
        engine[el] = float(re.search(r"engine_ms=([0-9.]+)", l).group(1)) / 1e3
span = lambda v: f"{min(v, default=0):.1f}-{max(v, default=0):.1f} s"
second = sorted(b[1] for b in begun.values() if len(b) > 1)
print(f"loads done {span(loaded.values())}; first batches begun {span([b[0] for b in begun.values()])}; "
      f"second batches begin at " + " ".join(f"{x:.1f}" for x in second) + " s; first batches' engine "
      + " ".join(f"{g:.1f}" for g in sorted(engine.values())) + " s")
PY
}

# Start-up of 16 streams fp16 b32 in one process: the timeline above.
section_su() {
  timed su "16 -fp16 32" timeline
}

# A session's load and first run alone (model_only prints both), and with 4 / 16 processes
# starting at once (separate CUDA contexts, no lock between them): is a first run's time the
# GPU's or the host's, and would first runs side by side overlap?
section_fr() {
  local p n i
  for p in "" -fp16; do
    row "fr) yolo11n $(prec "$p") b32: load, first run alone" "$($R/model_only $M/yolo11n-det$p.onnx cuda 32 640x384 10 resident 2>&1 | grep -o 'load_s.*')"
  done
  for n in 4 16; do
    t0=$SECONDS
    for i in $(seq $n); do $R/model_only $M/yolo11n-det-fp16.onnx cuda 32 640x384 10 resident > /tmp/fr-$i.txt 2>&1 & done
    wait
    row "fr) $n model_only fp16 b32 processes at once: first runs (s), wall" "$(grep -ho 'first_run_s=[0-9.]*' /tmp/fr-*.txt | cut -d= -f2 | sort -n | tr '\n' ' ')in $((SECONDS - t0)) s"
    rm -f /tmp/fr-*.txt
  done
}

# max-display-delay=16 against the default, alternating, 16 streams fp16 b32 (runs of one case
# vary by several percent), with (a) fp16 b32 in the same visit.
section_dr() {
  row "dr) model only, yolo11n fp16 b32 resident" "$(fps fps "$($R/model_only $M/yolo11n-det-fp16.onnx cuda 32 640x384 300 resident 2>&1 | tail -1)") fps"
  local d
  for d in "" 16 "" 16; do
    (export DECPROPS="${d:+max-display-delay=$d}"; one_process "16 -fp16 32")
  done
}

# Streams sharing one session (engine-name, engine-instances=1): start-up (timeline) and rate
# with every stream running, 16 streams fp16 / fp32 b32 and 12 fp32 b8; then the default models
# on two copies of the courtsrc match in CUDA memory, shared against a model each: the same
# detections.
section_en() {
  local c
  for c in "16 -fp16 32" "16 32" "12 8"; do
    PROPS="engine-name=shared engine-instances=1" timed en "$c" timeline
  done
  same_detections en "engine-instances=1"
}

# The default models on two copies of the courtsrc match in CUDA memory, a model each against
# engines shared with SHARED (more properties): the same detections. Usage: same_detections TAG SHARED
same_detections() {
  local m="filesrc location=$R/match-1080p.mp4 ! qtdemux ! h264parse ! nvh264dec ! $CUDA"
  local det="yolodetect model=models/courtvision-det.onnx execution-provider=cuda batch-size=8"
  local pose="posedetect model=models/courtvision-pose.onnx execution-provider=cuda batch-size=8"
  local own shared
  own=$(timeout 150 $R/cvlaunch $m ! $det ! $pose ! fakesink $m ! $det ! $pose ! fakesink 2>&1 | tail -1)
  shared=$(timeout 150 $R/cvlaunch $m ! $det engine-name=d $2 ! $pose engine-name=p $2 ! fakesink \
    $m ! $det engine-name=d $2 ! $pose engine-name=p $2 ! fakesink 2>&1 | tail -1)
  log "$1) own: $own"; log "$1) shared $2: $shared"
  row "$1) default models, two match streams in CUDA memory: a model each / shared engines $2 (detections per label)" \
    "$(grep -o 'detections=.*' <<<"$own") / $(grep -o 'detections=.*' <<<"$shared")"
}

# Engine pools: 16 streams sharing 2 / 4 sessions of yolo11n fp16 b32 (one session ran them
# at 3609 fps, its runs one at a time); 16 streams of batches of 4 combined into runs of up to
# 32 frames by 2 sessions, against a model each at b4; the same detections with 2 sessions
# and combined runs.
section_ep() {
  local i
  for i in 2 4; do
    PROPS="engine-name=shared engine-instances=$i" timed ep "16 -fp16 32" timeline
  done
  PROPS="engine-name=shared engine-instances=2" timed ep "16 -fp16 4"
  timed ep "16 -fp16 4"
  same_detections ep "engine-instances=2 engine-batch-latency=5"
}

# 16 streams of batches of 4 on two sessions, combined: the timing log kept (xz) in $OUT
# (runs of 4 and of 8-32 frames alternating on a session stalled it 4 s each switch, the
# first visit); 12 streams fp32 b8 on two sessions, combined, and with a model each.
section_eq() {
  PROPS="engine-name=shared engine-instances=2" timed eq "16 -fp16 4" timeline
  xz -c /tmp/st.txt > "$OUT/eq-st.txt.xz"
  PROPS="engine-name=shared engine-instances=2" timed eq "12 8" timeline
  timed eq "12 8"
}

# 16 streams fp16 b32 on two shared sessions, three runs, between two (a) fp16 b32 runs of
# the same visit: 0.9x of (a)?
# (a) fp16 b32: yolo11n alone, input resident on the GPU (frames/s).
a_fp16_b32() { fps fps "$($R/model_only $M/yolo11n-det-fp16.onnx cuda 32 640x384 300 resident 2>&1 | tail -1)"; }

section_ea() {
  row "ea) model only, yolo11n fp16 b32 resident (a)" "$(a_fp16_b32) fps"
  local i
  for i in 1 2 3; do
    PROPS="engine-name=shared engine-instances=2" one_process "16 -fp16 32"
  done
  row "ea) model only, yolo11n fp16 b32 resident (a), again" "$(a_fp16_b32) fps"
}

# Sharers of two model input sizes on two sessions (a session keeps to one size): 16 streams
# fp16 b4 combined, 8 at 640x384 and 8 with input-size=480 (480x288); the timing log in $OUT.
section_ez() {
  local long="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec ! $CUDA ! queue max-size-buffers=64"
  local det="yolodetect model=$M/yolo11n-det-fp16.onnx execution-provider=cuda batch-size=4 engine-name=mixed"
  local desc
  desc="$(streams 8 "$long ! $det ! fakesink") $(streams 8 "$long ! $det input-size=480 ! fakesink")"
  timed_pipe ez "ez) 16 streams fp16 b4 sharing two sessions, 8 at 640x384 and 8 at 480x288 (input-size=480)" \
    ez $desc
  xz -c /tmp/st.txt > "$OUT/ez-st.txt.xz"
}

# NVDEC's H.264 rate against the number of streams (the H100 has seven decoders: sixteen streams
# leave them unevenly loaded?), and the pipeline a model each with more streams; a pool of sixteen
# sessions that never combines (engine-batch-size=1) against a model each (the pool's shared
# state alone).
section_hn() {
  local n
  for n in 14 21 28; do
    row "hn) $n nvh264dec alone, CUDA memory" "$(pipe hn-dec$n $(streams $n "$H264 ! fakesink"))"
  done
  for n in 21 28; do
    row "hn) $n streams H.264 fp16 b32, a model each" \
      "$(pipe hn-own$n $(streams $n "$H264 ! $Q ! $DET16 ! fakesink"))"
  done
  row "hn) 16 streams H.264 fp16 b32, sixteen shared sessions, engine-batch-size=1" \
    "$(pipe hn-p16 $(streams 16 "$H264 ! $Q ! $DET16 engine-name=nv engine-instances=16 engine-batch-size=1 ! fakesink"))"
  row "hn) 16 streams H.264 fp16 b32, a model each" \
    "$(pipe hn-own16 $(streams 16 "$H264 ! $Q ! $DET16 ! fakesink"))"
}

# Pools after a size took sessions that had not run yet (before, one size ran on one session of any
# pool): two and four shared sessions against a model each; this build (a caller runs only a group
# holding its own batch) against $R/cvlaunch-old (any caller runs any group: staged with OLD=REV,
# REV a commit whose EnginePool::run takes `state.runnable()` in place of `self.own_group(..)`).
section_hf() {
  local src dec
  for src in H264 H265; do
    dec="${!src} ! $Q"
    timed_pipe hf "hf) 16 streams ${src/H26/H.26} fp16 b32, two shared sessions" \
      hf2-${src,,} $(streams 16 "$dec ! $DET16 engine-name=nv engine-instances=2 ! fakesink")
    row "hf) 16 streams ${src/H26/H.26} fp16 b32, two shared sessions, any caller runs any group (cvlaunch-old)" \
      "$(CVLAUNCH=$R/cvlaunch-old pipe hf2old-${src,,} $(streams 16 "$dec ! $DET16 engine-name=nv engine-instances=2 ! fakesink"))"
    row "hf) 16 streams ${src/H26/H.26} fp16 b32, four shared sessions" \
      "$(pipe hf4-${src,,} $(streams 16 "$dec ! $DET16 engine-name=nv engine-instances=4 ! fakesink"))"
  done
  row "hf) 16 streams H.264 fp16 b32, a model each" "$(pipe hf-own $(streams 16 "$H264 ! $Q ! $DET16 ! fakesink"))"
}

# (a), two shared sessions from H.264, (a) again, on one machine: the ratio the target asks.
section_hr() {
  row "hr) model only, yolo11n fp16 b32 resident (a)" "$(a_fp16_b32) fps"
  row "hr) 16 streams H.264 fp16 b32, two shared sessions" \
    "$(pipe hr2 $(streams 16 "$H264 ! $Q ! $DET16 engine-name=nv engine-instances=2 ! fakesink"))"
  row "hr) model only, yolo11n fp16 b32 resident (a), again" "$(a_fp16_b32) fps"
}

# Where fp16 b32 loses to (a) when the model, not the decoders, sets the pace: model_only's
# resident loop (a) against the elements' run after the letterbox kernel (best-class output
# added, copied to host memory every run: `images`), one session and two side by side (a pool's
# two sessions), then 16 HEVC streams through two shared sessions (model-bound) for scale.
section_ov() {
  local mode n line
  for mode in resident images; do
    for n in 1 2 3; do
      line=$($R/model_only $M/yolo11n-det-fp16.onnx cuda 32 640x384 300 $mode $n 2>&1 | tail -1)
      log "ov) $line"
      row "ov) model only, yolo11n fp16 b32, $mode, $n session(s) side by side" "$(fps fps "$line") fps ($(fps ms_per_batch "$line") ms a batch each)"
    done
  done
  timed_pipe ov "ov) 16 streams HEVC -> nvh265dec -> yolodetect fp16 b32, two shared sessions" \
    ov-hevc $(streams 16 "$H265 ! $Q ! $DET16 engine-name=nv engine-instances=2 ! fakesink")
}

# Past NVDEC's H.264 rate with the pools fixed: 16 nvh264dec streams beside 4 / 8 streams decoded
# on the CPU (openh264dec, frames uploaded for the letterbox kernel), two shared sessions each,
# against 16 nvh264dec streams alone, between two (a) runs.
section_hy() {
  row "hy) model only, yolo11n fp16 b32 resident (a)" "$(a_fp16_b32) fps"
  local cpu="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! openh264dec"
  local det="$DET16 engine-instances=2" n
  for n in 4 8; do
    row "hy) 16 nvh264dec streams + $n openh264dec streams -> yolodetect fp16 b32 (two shared sessions each)" \
      "$(pipe "hy-hybrid $n" $(streams 16 "$H264 ! $Q ! $det engine-name=nv ! fakesink") \
        $(streams $n "$cpu ! $Q ! $det engine-name=host ! fakesink"))"
  done
  row "hy) 16 nvh264dec streams -> yolodetect fp16 b32, two shared sessions" \
    "$(pipe hy-h264 $(streams 16 "$H264 ! $Q ! $det engine-name=nv ! fakesink"))"
  row "hy) model only, yolo11n fp16 b32 resident (a), again" "$(a_fp16_b32) fps"
}

# The best-class nodes: TopK (k=1 on the class axis; $R/model_only-old, $R/cvlaunch-old staged
# with OLD=6544d76) against ArgMax + GatherElements (this build), alternating: the elements' run
# after the letterbox kernel, 16 HEVC streams (model-bound) and 16 H.264 streams, between two (a)
# runs.
section_tk() {
  row "tk) model only, yolo11n fp16 b32 resident (a)" "$(a_fp16_b32) fps"
  local n v line
  for n in 1 2; do
    for v in -old ""; do
      line=$($R/model_only$v $M/yolo11n-det-fp16.onnx cuda 32 640x384 300 images $n 2>&1 | tail -1)
      log "tk) $v $line"
      row "tk) model_only$v, yolo11n fp16 b32, images, $n session(s)" "$(fps fps "$line") fps ($(fps ms_per_batch "$line") ms a batch each)"
    done
  done
  local det="$DET16 engine-name=nv engine-instances=2"
  for v in -old ""; do
    row "tk) cvlaunch$v: 16 streams HEVC fp16 b32, two shared sessions" \
      "$(CVLAUNCH=$R/cvlaunch$v pipe "tk-hevc$v" $(streams 16 "$H265 ! $Q ! $det ! fakesink"))"
  done
  for v in -old ""; do
    row "tk) cvlaunch$v: 16 streams H.264 fp16 b32, two shared sessions" \
      "$(CVLAUNCH=$R/cvlaunch$v pipe "tk-h264$v" $(streams 16 "$H264 ! $Q ! $det ! fakesink"))"
  done
  row "tk) model only, yolo11n fp16 b32 resident (a), again" "$(a_fp16_b32) fps"
}

# This build against an older cvlaunch staged as $R/cvlaunch-old, alternating (is a change in rate
# the build's or the machine's?).
section_ab() {
  local det="$DET16 engine-name=nv engine-instances=2"
  row "ab) 16 nvh264dec alone, CUDA memory" "$(pipe ab-dec $(streams 16 "$H264 ! fakesink"))"
  local src
  for src in H264 H264 H265; do
    local dec=${!src}
    row "ab) 16 streams ${src/H26/H.26} fp16 b32, two shared sessions: older build" \
      "$(CVLAUNCH=$R/cvlaunch-old pipe ab-old $(streams 16 "$dec ! $Q ! $det ! fakesink"))"
    row "ab) 16 streams ${src/H26/H.26} fp16 b32, two shared sessions: this build" \
      "$(pipe ab-new $(streams 16 "$dec ! $Q ! $det ! fakesink"))"
  done
}

# 16 streams from HEVC (nvh265dec decodes ~9860 frames/s alone, past the model's (a)): what caps
# the elements when the decoders do not.
section_hs() {
  local h265="$H265 ! $Q"
  timed_pipe hs "hs) 16 streams HEVC fp16 b32, two shared sessions" \
    hs2 $(streams 16 "$h265 ! $DET16 engine-name=nv engine-instances=2 ! fakesink")
  row "hs) 16 streams HEVC fp16 b32, four shared sessions" \
    "$(pipe hs4 $(streams 16 "$h265 ! $DET16 engine-name=nv engine-instances=4 ! fakesink"))"
  row "hs) 16 streams HEVC fp16 b32, a model each" "$(pipe hs-own $(streams 16 "$h265 ! $DET16 ! fakesink"))"
  row "hs) 16 streams HEVC fp16 b32, two shared sessions, CUDA_DEVICE_MAX_CONNECTIONS=32" \
    "$(CUDA_DEVICE_MAX_CONNECTIONS=32 pipe hs-mc $(streams 16 "$h265 ! $DET16 engine-name=nv engine-instances=2 ! fakesink"))"
}

# 16 streams of H.264 fp16 b32: a model each against one pool of 16 sessions (is it the number of
# sessions running at once?).
section_hi() {
  local h264="$H264 ! $Q"
  row "hi) 16 streams H.264 fp16 b32, a model each" "$(pipe hi-own $(streams 16 "$h264 ! $DET16 ! fakesink"))"
  row "hi) 16 streams H.264 fp16 b32, sixteen shared sessions" \
    "$(pipe hi16 $(streams 16 "$h264 ! $DET16 engine-name=nv engine-instances=16 ! fakesink"))"
}

# Frames from system memory: uploaded one at a time and letterboxed by the kernel (now) against
# the uint8 batch through the preprocessing graph (COURTVISION_LETTERBOX_KERNEL=0, as before).
section_hu() {
  local p c b fmt line k
  for p in "" -fp16; do
    for c in "nv12 8" "nv12 32" "bgrx 32"; do
      set -- $c; fmt=$1 b=$2
      line=$($R/graph_bench $M/yolo11n-det$p.onnx cuda $fmt 1920x1080 $b 30 8 2>&1 | tail -1)
      log "hu) graph_bench $p $fmt b$b: $line"
      row "hu) 1080p $fmt yolo11n $(prec "$p") b$b, fps: host letterbox / uint8 batch + graph / uploaded one at a time + kernel / resident + kernel" \
        "$(sed -E 's/.*= ([0-9]+) fps;.*= ([0-9]+) fps \(copy.*resident on the device: fill \+ run ([0-9.]+) ms.*uploaded one at a time \([a-z]+\): fill \+ run [0-9.]+ ms\/batch = ([0-9]+) fps, output.*difference ([0-9.e+-]+).*/\1 \/ \2 \/ \4 \/ (\3 ms a batch); worst output difference against the host letterbox \5/' <<<"$line")"
    done
  done
  local sys="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! nvh264dec ! $SYS ! $Q"
  local cpu="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! openh264dec ! $Q"
  local det=$DET16
  for k in 1 0; do
    row "hu) 4 streams nvh264dec -> system memory -> yolodetect fp16 b32, kernel=$k" \
      "$(COURTVISION_LETTERBOX_KERNEL=$k pipe "hu sys $k" $(streams 4 "$sys ! $det ! fakesink"))"
    row "hu) 8 streams openh264dec (CPU) -> yolodetect fp16 b32, two shared sessions, kernel=$k" \
      "$(COURTVISION_LETTERBOX_KERNEL=$k pipe "hu cpu $k" $(streams 8 "$cpu ! $det engine-name=host engine-instances=2 ! fakesink"))"
  done
}

# Past NVDEC's H.264 rate, fp16 b32 between two (a) runs: decoders alone, and streams on two
# shared sessions (a pool for the NVDEC streams, one for the CPU-decoded ones, whose frames come in
# system memory: uploaded one at a time for the letterbox kernel).
section_hx() {
  row "hx) model only, yolo11n fp16 b32 resident (a)" "$(a_fp16_b32) fps"
  local h265=$H265 h264=$H264
  local cpu="filesrc location=$R/clip-1080p-long.mp4 ! qtdemux ! h264parse ! openh264dec"
  local det="$DET16 engine-instances=2"
  row "hx) 16 nvh265dec alone (HEVC 1080p), CUDA memory" "$(pipe hevc-alone $(streams 16 "$h265 ! fakesink"))"
  row "hx) 16 streams HEVC -> nvh265dec -> yolodetect fp16 b32, two shared sessions" \
    "$(pipe hevc $(streams 16 "$h265 ! queue max-size-buffers=64 ! $det engine-name=nv ! fakesink"))"
  row "hx) 8 openh264dec alone (H.264 1080p on the CPU)" "$(pipe oh-alone $(streams 8 "$cpu ! fakesink"))"
  local n
  for n in 4 8; do
    row "hx) 16 nvh264dec streams + $n openh264dec streams -> yolodetect fp16 b32 (two sessions each)" \
      "$(pipe "hybrid $n" $(streams 16 "$h264 ! queue max-size-buffers=64 ! $det engine-name=nv ! fakesink") \
        $(streams $n "$cpu ! queue max-size-buffers=64 ! $det engine-name=host ! fakesink"))"
  done
  row "hx) 16 nvh264dec streams -> yolodetect fp16 b32, two shared sessions (the same visit)" \
    "$(pipe h264 $(streams 16 "$h264 ! queue max-size-buffers=64 ! $det engine-name=nv ! fakesink"))"
  row "hx) model only, yolo11n fp16 b32 resident (a), again" "$(a_fp16_b32) fps"
}

# The decoder's properties on this runtime (GStreamer 1.22's nvh264dec).
section_gi() {
  gst-inspect-1.0 nvh264dec > "$OUT/nvh264dec.txt" 2>&1
  row "gi) nvh264dec properties" "$(grep -E '^  [a-z-]+ +:' "$OUT/nvh264dec.txt" | awk '{print $1}' | tr '\n' ' ')"
}

for s in "$@"; do
  case $s in
    setup) setup ;;
    a) section_a ;;
    b) section_b ;;
    c) section_c ;;
    check) section_check ;;
    p) section_p ;;
    m) section_m ;;
    g) section_g ;;
    d) section_d ;;
    u) section_u ;;
    s) section_s ;;
    r) section_r ;;
    t) section_t ;;
    gc) section_gc ;;
    bc) section_bc ;;
    bl) section_bl ;;
    dn) section_dn ;;
    dl) section_dl ;;
    mc) section_mc ;;
    dt) section_dt ;;
    dx) section_dx ;;
    bt) section_bt ;;
    bk) section_bk ;;
    cs) section_cs ;;
    mp) section_mp ;;
    cn) section_cn ;;
    lk) section_lk ;;
    lc) section_lc ;;
    lv) section_lv ;;
    smoke) section_smoke ;;
    dp) section_dp ;;
    wv) section_wv ;;
    dc) section_dc ;;
    wl) section_wl ;;
    gi) section_gi ;;
    dd) section_dd ;;
    su) section_su ;;
    fr) section_fr ;;
    dr) section_dr ;;
    en) section_en ;;
    ep) section_ep ;;
    eq) section_eq ;;
    ea) section_ea ;;
    ez) section_ez ;;
    hx) section_hx ;;
    hu) section_hu ;;
    ab) section_ab ;;
    hs) section_hs ;;
    hi) section_hi ;;
    hn) section_hn ;;
    hf) section_hf ;;
    hr) section_hr ;;
    ov) section_ov ;;
    hy) section_hy ;;
    tk) section_tk ;;
    *) echo "unknown section $s"; exit 2 ;;
  esac
done
echo
cat "$TABLE"
