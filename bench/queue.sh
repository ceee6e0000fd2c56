#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The job queue and metapublish, measured in one run on this machine:
# - metapublish's cost a frame (its stage in timingmeta's report) publishing the full analysis
#   of a rendered match (det, pose, court, tracks) to MQTT QoS 1, to NATS, and to no broker;
#   and its whole CPU cost a frame (both of its threads) without inference beside it;
# - a cached job: `courtvision submit` of a stored job, whole process, median of 5;
# - redelivery: a worker killed in the middle of a job; seconds until another takes it up,
#   against the ack wait.
#
#   bench/queue.sh [FRAMES]        (needs setup.sh's mosquitto and nats-server, and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES=${1:-150}
BIN=target/release/courtvision
OUT=bench-out/queue
rm -rf "$OUT"; mkdir -p "$OUT"
export GST_PLUGIN_PATH=$PWD/target/release
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQ=$(port); NP=$(port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQ" > "$OUT/mosquitto.conf"
/usr/sbin/mosquitto -c "$OUT/mosquitto.conf" >/dev/null 2>&1 & MPID=$!
/usr/sbin/nats-server -a 127.0.0.1 -p "$NP" -js -sd "$OUT/nats" >/dev/null 2>&1 & NPID=$!
WORKERS=()
trap 'kill $MPID $NPID ${WORKERS[@]:-} 2>/dev/null || true' EXIT
sleep 1

echo "| what | figure |"
echo "| --- | --- |"
for target in "mqtt://127.0.0.1:$MQ qos=1" "nats://127.0.0.1:$NP" "mqtt://127.0.0.1:1 max-queue=100000"; do
  gst-launch-1.0 -m courtsrc seed=9400 players=4 num-buffers="$FRAMES" ! video/x-raw,width=1280,height=720,framerate=30/1 \
    ! timingmeta mode=ingress ! yolodetect model=models/courtvision-det.onnx classes=shuttle \
    ! posedetect model=models/courtvision-pose.onnx ! courtcalib ! objecttrack ! shuttletrack \
    ! metapublish name=pub location=$target flush-timeout=5000 ! timingmeta mode=egress interval=100000 \
    ! fakesink > "$OUT/pub.log" 2>&1
  ms=$(grep -o 'pub\\=\\(double\\)[0-9.e-]*' "$OUT/pub.log" | tail -1 | sed 's/.*)//')
  bytes=$(grep -o 'published=(guint64)[0-9]*' "$OUT/pub.log" | tail -1 | cut -d')' -f2)
  echo "| metapublish to ${target%% *} (${target#* }), $FRAMES frames of full analysis: cost a frame | $(python3 -c "print(f'{$ms*1000:.1f} µs')") (published ${bytes:-0}) |"
done

# metapublish's whole CPU cost a frame (its streaming-thread part and its sender thread,
# serializing and sending): the process's CPU time with it minus without it, on courtsrc's
# frames with their ground truth (players with keypoints, the shuttle, the court) as the
# metadata, 3000 frames at 320x180 so that rendering costs little; 3 rounds, medians.
cpu() { /usr/bin/time -f "%U %S" gst-launch-1.0 -q courtsrc seed=9402 players=4 num-buffers=3000 \
  ! video/x-raw,width=320,height=180,framerate=30/1 ! "$@" fakesink 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
declare -A CPU
for round in 1 2 3; do
  CPU[none]+=" $(cpu)"
  CPU[mqtt]+=" $(cpu metapublish location=mqtt://127.0.0.1:$MQ qos=1 flush-timeout=10000 !)"
  CPU[nats]+=" $(cpu metapublish location=nats://127.0.0.1:$NP flush-timeout=10000 !)"
done
for k in mqtt nats; do
  python3 - "${CPU[none]}" "${CPU[$k]}" "$k" <<'PY'
import statistics, sys
base, with_ = (statistics.median(map(float, a.split())) for a in sys.argv[1:3])
k = sys.argv[3]
print(f"| metapublish to {k}: CPU a frame, both threads (3000 frames, with minus without, median of 3) | {(with_ - base) / 3000 * 1e6:.0f} µs |")
PY
done

# A stored job answered from the cache.
gst-launch-1.0 -q courtsrc seed=9401 num-buffers="$FRAMES" ! video/x-raw,width=1280,height=720,framerate=30/1 \
  ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=veryfast bitrate=4000 ! mp4mux \
  ! filesink location="$OUT/match.mp4"
DB="sqlite:$OUT/results.db"
COURTVISION_LOG=warn $BIN worker --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu --name w0 --ack-wait 10 2>"$OUT/w0.log" & WORKERS+=($!)
t0=$(date +%s.%N)
$BIN submit "$OUT/match.mp4" --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu --wait > "$OUT/submit.log"
t1=$(date +%s.%N)
echo "| the job analysed by a worker ($FRAMES frames 1280x720, det + pose + court + tracks, CPU), submit to stored | $(python3 -c "print(f'{$t1-$t0:.1f} s')") |"
times=()
for i in 1 2 3 4 5; do
  a=$(date +%s.%N); $BIN submit "$OUT/match.mp4" --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu > "$OUT/cached.log"; b=$(date +%s.%N)
  grep -q cached "$OUT/cached.log"; times+=("$(python3 -c "print($b-$a)")")
done
echo "| the same job submitted again: answered from the database (whole process, median of 5) | $(python3 -c "import statistics,sys; print(f'{statistics.median(map(float,sys.argv[1:]))*1000:.0f} ms')" "${times[@]}") |"

# Redelivery: the worker dies in the middle of a job; a second worker takes it up.
COURTVISION_LOG=warn $BIN worker --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu --name w1 --ack-wait 10 2>"$OUT/w1.log" & WORKERS+=($!)
kill "${WORKERS[0]}"; wait "${WORKERS[0]}" 2>/dev/null || true
COURTVISION_LOG=warn $BIN worker --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu --name w2 --ack-wait 10 2>"$OUT/w2.log" & WORKERS+=($!)
sleep 1
# w1 and w2 wait; the job goes to one of them, which is killed once it runs.
$BIN submit "$OUT/match.mp4" --no-pose --nats "nats://127.0.0.1:$NP" --db "$DB" --device cpu > "$OUT/submit2.log"
python3 - "$OUT/results.db" "${WORKERS[1]}" "${WORKERS[2]}" <<'PY'
import os, signal, sqlite3, sys, time
db, pids = sys.argv[1], {"w1": int(sys.argv[2]), "w2": int(sys.argv[3])}
c = sqlite3.connect(db)
def job():
    return c.execute("SELECT worker, state, started_at, attempts FROM jobs ORDER BY submitted_at DESC LIMIT 1").fetchone()
while (j := job())[1] != "running":
    time.sleep(0.05)
victim = j[0]
time.sleep(1.0)
os.kill(pids[victim], signal.SIGKILL)
killed = time.time()
while (j := job())[0] == victim and j[1] != "done":
    time.sleep(0.05)
taken = time.time() - killed
while job()[1] != "done":
    time.sleep(0.1)
print(f"| a worker killed mid-job: the job taken up by another (ack wait 10 s), then stored once | {taken:.1f} s after the kill, {job()[3]} tries |")
PY
