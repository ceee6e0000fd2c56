#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The GPU benchmark: a few named cases, one Markdown table. Runs from the checkout on a host
# with an NVIDIA GPU, with what bench/gpu-pack.sh staged in .device/ (or, on a host with
# GStreamer's nvcodec and onnxruntime-gpu installed, with target/release built there and
# CLIPS pointing at a folder with match-1080p.h264 and match-1080p.h265).
#
#   bench/gpu.sh unpack1 | unpack2        ONNX Runtime for CUDA from .device/ort1, .device/ort2
#   bench/gpu.sh [CASE ...]               default: all
#
# Cases:
#   model    the model alone: the default detector (YOLO11n), fp16 and fp32, batch 32 at
#            640x384 (what 1080p letterboxes to), input resident on the GPU, one session and
#            two side by side; batch 1 in ms
#   ceiling  what the GPU can infer at most: the detector and the pose model fp16 alone, two
#            sessions each, at batches 32, 8 and 1 (640x384), and the live 1080p30 streams that
#            makes for detection + pose on every frame
#   streams  N streams (default 16) of the 1080p match, H.264 and HEVC, through NVDEC into CUDA
#            memory: the decoders alone, then into yolodetect fp16 b32 sharing two sessions;
#            the rate while every stream runs, the start-up until all run
#   latency  one stream at its real rate (30 frames/s), batch 1, frames in CUDA memory:
#            timingmeta's ingress-to-egress latency against the model alone at batch 1
#   equal    the same detections on the CPU and on the GPU: the match through the default
#            detector and pose model (fp32), CPU provider against CUDA with the letterbox kernel
#   capacity live 1080p30 streams (the H.264 match paced at its real rate before NVDEC, as a
#            camera sends it) through detection + pose (fp16, engines shared by name), for
#            CAP_N streams (default "32 64 96"): each stream's lag behind its source (p95 of
#            the worst report window after 3 s), the worst and the median stream, drops
#   diag     16 live streams (DIAG_N) with variants of the per-element batching, and the
#            detectors' load log of 4 streams in $OUT/diag-load.log
#   command  the courtvision command on the GPU (from .device/cmd, staged by gpu-pack.sh):
#            `live` with rendered sources on CUDA and --http, /metrics read while it runs
#            (the GPU's series from NVML)
#   whole    N streams of the 1080p H.264 match through the whole analysis: NVDEC, the frames
#            downloaded (cudadownload), yolodetect (shuttle) and posedetect (players) fp16 on
#            CUDA (engines shared by name, letterbox on the GPU), courtcalib, objecttrack,
#            shuttletrack and metaexport (JSON Lines to /dev/null);
#            against NVDEC alone in the same run, into CUDA memory and downloaded; the rate
#            while every stream runs, the start-up until all run
#   soak     SOAK_N live streams (default 64) as in capacity for SOAK_LOOPS plays of the clip
#            (default 8: about 2 minutes): the process's resident memory every 5 s
# Details (every command's output) go to $OUT/details.log, the table to $OUT/table.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
N=${N:-16}
LOOPS=${LOOPS:-4}
mkdir -p "$OUT"

case "${1:-all}" in
  unpack1)
    mkdir -p /tmp/ortx && cp .device/ort1/* /tmp/ortx/ && ls -la /tmp/ortx
    exit ;;
  unpack2)
    cp .device/ort2/* /tmp/ortx/
    cat /tmp/ortx/cudaxz.part00 /tmp/ortx/cudaxz.part01 | xz -d > /tmp/ort.cuda.so
    mkdir -p /tmp/ort && mv /tmp/ort.cuda.so /tmp/ort/libonnxruntime_providers_cuda.so
    xz -d -c /tmp/ortx/libonnxruntime.so.1.31.1.xz > /tmp/ort/libonnxruntime.so.1.31.1
    cp /tmp/ortx/libonnxruntime_providers_shared.so /tmp/ort/
    ls -la /tmp/ort && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    exit ;;
esac

# The staged runtime where there is one, else what the host has.
R=.device/run
if [ -f $R/gst-runtime.tar.xz ]; then
  [ -x /tmp/gst/bin/gst-launch-1.0 ] || tar -C /tmp -xJf $R/gst-runtime.tar.xz
  export LD_LIBRARY_PATH=/tmp/gst/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PATH=/tmp/gst/bin:$PATH GST_PLUGIN_SYSTEM_PATH=/tmp/gst/plugins
  export GST_PLUGIN_SCANNER=/tmp/gst/bin/gst-plugin-scanner GST_REGISTRY=/tmp/gst-registry.bin
  BIN=$R CLIPS=${CLIPS:-$R}
else
  BIN=target/release CLIPS=${CLIPS:-.device/run}
fi
if [ -f /tmp/ort/libonnxruntime.so.1.31.1 ]; then
  export ORT_DYLIB_PATH=/tmp/ort/libonnxruntime.so.1.31.1
  export LD_LIBRARY_PATH=/tmp/ort:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
export GST_DEBUG=${GST_DEBUG:-1}

LOG=$OUT/details.log
TABLE=$OUT/table.md
[ -f "$TABLE" ] || printf '| case | result |\n| --- | --- |\n' > "$TABLE"
row() { echo "| $1 | $2 |" >> "$TABLE"; }
log() { echo "$*" >> "$LOG"; }
field() { grep -o "$1=[0-9.]*" <<<"$2" | head -1 | cut -d= -f2; }
DET=models/courtvision-det.onnx
DET16=models/courtvision-det-fp16.onnx
POSE=models/courtvision-pose.onnx
CUDA="video/x-raw(memory:CUDAMemory)"

# The match clip of CODEC (h264, h265) decoded by NVDEC, played LOOPS times (or $2 times).
source_of() {
  local parse=${1}parse dec=nv${1}dec
  echo "multifilesrc location=$CLIPS/match-1080p.$1 loop=true num-buffers=${2:-$LOOPS} \
    caps=video/x-$1,stream-format=byte-stream ! $parse ! $dec"
}
# N copies of one chain (several streams in one process).
copies() { local i; for i in $(seq "$1"); do printf ' %s' "$2"; done; }

# cvlaunch PIPELINE... with the GPU sampled; echoes its summary line, the GPU's busy shares.
launch() {
  (nvidia-smi dmon -s u -d 1 > /tmp/dmon.txt 2>&1 &)
  sleep 0.3
  local line
  line=$(timeout 300 $BIN/cvlaunch "$@" 2>>"$LOG" | grep -E '^(frames|lag_streams)=' | tr '\n' ' ')
  pkill -f "nvidia-smi dmon" || true
  log "$line"
  echo "$line $(awk '$1 ~ /^[0-9]+$/ && $2 > 0 {s+=$2; d+=$5; n++}
    END {if (n) printf "sm=%.0f nvdec=%.0f", s/n, d/n}' /tmp/dmon.txt)"
}

model_alone() { $BIN/model_only "$@" 2>>"$LOG" | tail -1 | tee -a "$LOG"; }

case_model() {
  local m b line
  for m in $DET16 $DET; do
    for s in 1 2; do
      line=$(model_alone $m cuda 32 640x384 300 resident $s)
      row "model alone: $(basename $m) b32 640x384, $s session(s)" "$(field fps "$line") frames/s"
    done
    line=$(model_alone $m cuda 1 640x384 400 resident)
    row "model alone: $(basename $m) b1 640x384" "$(field ms_per_batch "$line") ms a frame"
  done
}

case_ceiling() {
  local b det pose
  for b in 32 8 1; do
    det=$(field fps "$(model_alone $DET16 cuda $b 640x384 300 resident 2)")
    pose=$(field fps "$(model_alone models/courtvision-pose-fp16.onnx cuda $b 640x384 300 resident 2)")
    row "models alone fp16, batch $b, two sessions: detector / pose model" \
      "$det / $pose frames/s: detection + pose on every frame at most $(awk -v d="$det" -v p="$pose" 'BEGIN {printf "%.0f frames/s = %.0f live 1080p30 streams", 1/(1/d+1/p), 1/(1/d+1/p)/30}')"
  done
}

case_streams() {
  local codec line a
  a=$(field fps "$(model_alone $DET16 cuda 32 640x384 300 resident 2)")
  for codec in h264 h265; do
    local src; src=$(source_of $codec)
    line=$(launch $(copies "$N" "$src ! $CUDA ! fakesink"))
    local dec; dec=$(field all_streams_fps "$line")
    row "$N streams $codec 1080p, NVDEC alone" "$dec frames/s (NVDEC $(field nvdec "$line")% busy)"
    line=$(launch $(copies "$N" "$src ! $CUDA ! queue max-size-buffers=64 ! yolodetect model=$DET16 \
      execution-provider=cuda batch-size=32 engine-name=det ! fakesink"))
    local det; det=$(field all_streams_fps "$line")
    row "$N streams $codec 1080p -> yolodetect fp16 b32 (two shared sessions)" \
      "$det frames/s = $(awk -v d="$det" -v n="$dec" -v a="$a" 'BEGIN {printf "%.2fx NVDEC alone, %.2fx the model alone (%s)", d/n, d/a, a}'); all $N running after $(field started_s "$line") s; GPU $(field sm "$line")% busy"
  done
}

case_latency() {
  rm -f /tmp/lat.jsonl
  local m
  for m in $DET16 $DET; do
    launch "$(source_of h264 1) ! $CUDA ! identity sync=true ! timingmeta mode=ingress \
      ! yolodetect model=$m execution-provider=cuda batch-size=1 \
      ! timingmeta mode=egress log-file=/tmp/lat.jsonl ! fakesink name=sink sync=false" > /dev/null
    local lat alone
    lat=$(python3 -c "
import json, statistics
v = sorted(json.loads(l)['processing_ms'] for l in list(open('/tmp/lat.jsonl'))[30:])
print(f'{statistics.median(v):.2f} ms median, p95 {v[int(len(v) * .95)]:.2f} ms')")
    alone=$(field ms_per_batch "$(model_alone $m cuda 1 640x384 400 resident)")
    row "one stream at 30 frames/s, batch 1, $(basename $m)" "$lat ingress to egress (model alone $alone ms)"
  done
}

case_equal() {
  local src; src=$(source_of h264 1)
  local chain="yolodetect model=$DET batch-size=8 ! posedetect model=$POSE batch-size=8"
  $BIN/cvlaunch --json /tmp/equal-cpu.jsonl $src ! $chain ! fakesink name=sink >> "$LOG" 2>&1
  $BIN/cvlaunch --json /tmp/equal-cuda.jsonl $src ! "$CUDA" \
    ! ${chain//batch-size=8/batch-size=8 execution-provider=cuda} ! fakesink name=sink >> "$LOG" 2>&1
  python3 bench/compare_detections.py /tmp/equal-cpu.jsonl /tmp/equal-cuda.jsonl \
    "default detector + pose model fp32 on the match: CPU vs CUDA (frames in CUDA memory)" >> "$TABLE"
}

# One live 1080p30 stream: paced before the decoder, detection + pose into shared engines.
# DET_OPTS / POSE_OPTS replace the per-element batching options.
live_chain() {
  echo "multifilesrc location=$CLIPS/match-1080p.h264 loop=true num-buffers=$1 \
    caps=video/x-h264,stream-format=byte-stream ! h264parse ! identity sync=true ! nvh264dec \
    ! $CUDA ! timingmeta mode=ingress ! queue leaky=downstream max-size-buffers=16 \
    ! yolodetect model=$DET16 execution-provider=cuda ${DET_OPTS:-batch-size=1 engine-name=det} classes=shuttle \
    ${POSE_OPTS-! posedetect model=models/courtvision-pose-fp16.onnx execution-provider=cuda batch-size=1 engine-name=pose} \
    ! timingmeta mode=egress ! fakesink sync=false"
}

case_capacity() {
  local n line
  for n in ${CAP_N:-32 64 96}; do
    line=$(launch $(copies "$n" "$(live_chain "${CAP_LOOPS:-2}")"))
    row "$n live 1080p30 H.264 streams, detection + pose fp16" \
      "lag p95 worst stream $(field lag_p95_max_ms "$line") ms, median $(field lag_p95_median_ms "$line") ms; drops $(field drops "$line"); $(field all_streams_fps "$line") frames/s; GPU $(field sm "$line")% busy, NVDEC $(field nvdec "$line")%; all running after $(field started_s "$line") s"
  done
}

# What limits live streams: the same 16 streams with the detectors' start-up logged, and
# variants of the per-element batching, each row with its rate and start-up.
case_diag() {
  local n=${DIAG_N:-16} line v
  for v in "shared b1 det+pose|||" \
           "shared b1 det only|batch-size=1 engine-name=det||none" \
           "own sessions b1 det only|batch-size=1||none" \
           "shared b4 lat40 det only|batch-size=4 max-batch-latency=40 engine-name=det||none"; do
    IFS='|' read -r name det _ nopose <<<"$v"
    local chain
    if [ "$nopose" = none ]; then chain=$(DET_OPTS=$det POSE_OPTS= live_chain 2)
    else chain=$(DET_OPTS=$det live_chain 2); fi
    line=$(launch $(copies "$n" "$chain"))
    row "diag $n streams: $name" "steady $(field steady_fps "$line") frames/s, all running after $(field started_s "$line") s, lag p95 median $(field lag_p95_median_ms "$line") ms, drops $(field drops "$line"), GPU $(field sm "$line")%"
  done
  GST_DEBUG=yolodetect:4,posedetect:4 timeout 120 $BIN/cvlaunch $(copies 4 "$(live_chain 1)") 2>&1 \
    | grep -E "loaded|READY|PAUSED" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-220 > "$OUT/diag-load.log"
}

case_command() {
  local c=.device/cmd
  [ -x /tmp/gst/bin/gst-launch-1.0 ] || tar -C /tmp -xJf $c/gst-runtime.tar.xz
  export LD_LIBRARY_PATH=/tmp/gst/lib:$LD_LIBRARY_PATH GST_PLUGIN_SYSTEM_PATH=/tmp/gst/plugins
  export GST_PLUGIN_SCANNER=/tmp/gst/bin/gst-plugin-scanner GST_REGISTRY=/tmp/gst-registry.bin
  local src=() i
  for i in 1 2 3 4; do src+=("s$i=courtsrc://?seed=$i&width=640&height=360"); done
  COURTVISION_MODELS=$PWD/models $c/courtvision live "${src[@]}" --device cuda --out /tmp/cmd-out \
    --http 127.0.0.1:18080 --duration 25 > "$OUT/command-summary.txt" 2> "$OUT/command-log.txt" &
  sleep 18
  python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:18080/metrics').read().decode())" > "$OUT/command-metrics.txt"
  wait
  row "courtvision live, 4 rendered 640x360 sources, --device cuda" "$(grep -c '^courtvision_gpu' "$OUT/command-metrics.txt") GPU series in /metrics: $(grep -E '^courtvision_gpu_(utilization|decoder)' "$OUT/command-metrics.txt" | tr '\n' ' '); $(awk '$1 ~ /^s[0-9]/ {n++; f+=$3} END {printf "%d sources, %d frames", n, f}' "$OUT/command-summary.txt")"
}

case_soak() {
  local n=${SOAK_N:-64}
  rm -f /tmp/rss.txt
  $BIN/cvlaunch $(copies "$n" "$(live_chain "${SOAK_LOOPS:-8}")") >> "$LOG" 2>&1 &
  local pid=$! t=0
  while kill -0 "$pid" 2>/dev/null; do
    echo "$t $(awk '/VmRSS/ {print $2}' /proc/"$pid"/status 2>/dev/null)" >> /tmp/rss.txt
    sleep 5; t=$((t + 5))
  done
  cp /tmp/rss.txt "$OUT/soak-rss.txt"
  row "soak: $n live streams, ${SOAK_LOOPS:-8} plays of the clip" "$(awk '$2 > 0 && $1 >= 30 {if (!a) a=$2; b=$2; if ($2 > m) m=$2} END {printf "RSS after 30 s %.0f MiB, end %.0f MiB, peak %.0f MiB, drift %+.1f%% (peak %+.1f%%)", a/1024, b/1024, m/1024, 100*(b-a)/a, 100*(m-a)/a}' /tmp/rss.txt)"
}

case_whole() {
  local src line dec down whole chain
  src=$(source_of h264)
  # courtcalib reads the frame's pixels in system memory, and cudadownload keeps no metadata
  # of ours: the frames are downloaded after NVDEC, and the detectors upload them again and
  # letterbox them on the GPU.
  chain="queue max-size-buffers=64 \
    ! yolodetect model=$DET16 execution-provider=cuda batch-size=32 engine-name=det classes=shuttle \
    ! posedetect model=models/courtvision-pose-fp16.onnx execution-provider=cuda batch-size=32 engine-name=pose \
    ! courtcalib ! objecttrack ! shuttletrack"
  line=$(launch $(copies "$N" "$src ! $CUDA ! fakesink"))
  dec=$(field all_streams_fps "$line")
  row "$N streams h264 1080p, NVDEC alone (CUDA memory)" "$dec frames/s (NVDEC $(field nvdec "$line")% busy); all running after $(field started_s "$line") s"
  line=$(launch $(copies "$N" "$src ! $CUDA ! cudadownload ! fakesink"))
  down=$(field all_streams_fps "$line")
  row "$N streams h264 1080p, NVDEC alone, downloaded to system memory" "$down frames/s; all running after $(field started_s "$line") s"
  line=$(launch $(copies "$N" "$src ! $CUDA ! cudadownload ! $chain ! metaexport location=/dev/null ! fakesink"))
  whole=$(field all_streams_fps "$line")
  # What the chain gives, one stream's first play: tracked players and the court.
  timeout 120 $BIN/cvlaunch $(source_of h264 1) ! "$CUDA" ! cudadownload ! $chain \
    ! metaexport location="$OUT/whole.jsonl" ! fakesink >> "$LOG" 2>&1
  row "the whole analysis, one stream: its records" "$(python3 -c "
import json
r = [json.loads(l) for l in open('$OUT/whole.jsonl')]
p = sum(1 for x in r for q in x['players'] if q.get('track_id') is not None)
print(f'{len(r)} frames, {p / max(len(r), 1):.1f} tracked players a frame, a shuttle in {sum(1 for x in r if x.get(\"ball\"))}, the court in {sum(1 for x in r if x.get(\"court\"))}')" 2>&1 | tail -1)"
  row "$N streams h264 1080p, the whole analysis (NVDEC, downloaded; det + pose fp16 b32 shared; courtcalib, objecttrack, shuttletrack, metaexport)" \
    "$whole frames/s = $(awk -v w="$whole" -v d="$dec" -v o="$down" 'BEGIN {printf "%.2fx NVDEC alone, %.2fx NVDEC downloaded", w/d, w/o}'); all $N running after $(field started_s "$line") s; GPU $(field sm "$line")% busy, NVDEC $(field nvdec "$line")%"
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] || [ "${cases[0]}" = all ] && cases=(model streams latency equal)
log "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader) ${cases[*]}"
for c in "${cases[@]}"; do
  "case_$c" || row "$c" "failed (see details.log)"
done
cat "$TABLE"
