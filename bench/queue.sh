#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The job queue and metapublish, measured in one run on this machine:
# - metapublish's CPU a frame (both of its threads, as the element counts it) publishing the
#   full analysis of a rendered match (det, pose, court, tracks) to MQTT QoS 1 and to NATS,
#   and publishing rendered records live and at a file's pace;
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
# metapublish's cost a frame: the CPU time of its two threads (its part of the streaming
# thread, and the sender making the JSON and sending it), which the element counts itself and
# posts at the end of the stream (`cpu-us`); and the wall time of its part of the streaming
# thread (its stage in timingmeta's report). Cases: the full analysis (det, pose, court,
# tracks) of a rendered match without its ground truth, as a camera's stream gives; and the
# rendered records (players with keypoints, shuttle, court, ground truth: about 6 kB each) at
# 30 frames/s live and as fast as a file goes. max-delay is the default, 100 ms.
pubcost() { # LOG FRAMES: prints "cpu µs a frame;wall µs a frame;published"
  local frames ms cpu pub
  frames=$(grep -o 'published=(guint64)[0-9]*' "$1" | tail -1 | cut -d')' -f2)
  cpu=$(grep -o 'cpu-us=(guint64)[0-9]*' "$1" | tail -1 | cut -d')' -f2)
  ms=$(grep -o 'pub\\=\\(double\\)[0-9.e-]*' "$1" | tail -1 | sed 's/.*)//')
  python3 -c "print(f'{${cpu:-0}/$2:.0f} µs', '{:.0f} µs'.format(${ms:-0}*1000) if '${ms}' else '-', '${frames:-0}', sep=';')"
}
for target in "mqtt://127.0.0.1:$MQ qos=1" "nats://127.0.0.1:$NP"; do
  gst-launch-1.0 -m courtsrc seed=9400 players=4 ground-truth=false num-buffers="$FRAMES" ! video/x-raw,width=1280,height=720,framerate=30/1 \
    ! timingmeta mode=ingress ! yolodetect model=models/courtvision-det.onnx classes=shuttle \
    ! posedetect model=models/courtvision-pose.onnx ! courtcalib ! objecttrack ! shuttletrack \
    ! metapublish name=pub location=$target flush-timeout=5000 ! timingmeta mode=egress interval=100000 \
    ! fakesink > "$OUT/pub.log" 2>&1
  IFS=';' read -r cpu wall pub <<< "$(pubcost "$OUT/pub.log" "$FRAMES")"
  echo "| metapublish to $target, full analysis of $FRAMES frames 1280x720: CPU a frame, both threads; streaming-thread wall time | $cpu; $wall (published $pub) |"
done
for target in "mqtt://127.0.0.1:$MQ qos=1" "nats://127.0.0.1:$NP"; do
  for mode in live file; do
    n=900; sync=""
    if [ $mode = live ]; then n=450; sync="identity sync=true !"; fi
    gst-launch-1.0 -m courtsrc seed=9402 players=4 num-buffers=$n ! video/x-raw,width=320,height=180,framerate=30/1 \
      ! $sync metapublish name=pub location=$target flush-timeout=10000 ! fakesink > "$OUT/pub-$mode.log" 2>&1
    IFS=';' read -r cpu wall pub <<< "$(pubcost "$OUT/pub-$mode.log" $n)"
    echo "| metapublish to $target, rendered records, $([ $mode = live ] && echo "30 frames/s live" || echo "as fast as a file"): CPU a frame, both threads | $cpu (published $pub of $n) |"
  done
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
