# SPDX-License-Identifier: MIT OR Apache-2.0
# Shared by the pipeline scripts: finds the launcher and the models, and spells the analysis
# chain. Nothing here builds: the scripts run what is built (target/release/cvlaunch, with
# both plugins inside) or installed (gst-launch-1.0 with the plugins on GST_PLUGIN_PATH or in
# GStreamer's own plugin folder). COURTVISION_DET_MODEL / COURTVISION_POSE_MODEL override the
# default models (models/: player + shuttle detector, player pose model).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -x target/release/cvlaunch ]; then
  LAUNCH=("$PWD/target/release/cvlaunch" --progress)
elif gst-inspect-1.0 yolodetect >/dev/null 2>&1; then
  LAUNCH=(gst-launch-1.0 -e)
else
  echo "courtvision is neither built nor installed: run 'cargo build --release' here, or" \
       "install it with meson (README.md, Install)" >&2
  exit 1
fi
DET=${COURTVISION_DET_MODEL:-$PWD/models/courtvision-det.onnx}
POSE=${COURTVISION_POSE_MODEL:-$PWD/models/courtvision-pose.onnx}
# The analysis chain between a decoded source and an encoder/sink. posedetect's boxes (with
# keypoints) stand for the players and yolodetect keeps only the shuttle, so each player is
# found and drawn once; objecttrack gives the players their identities, shuttletrack makes the
# shuttle a trajectory (and tells motionskip how fast it flies); courtcalib finds the court and
# the camera (COURTVISION_SPORT: badminton or netball).
ANALYSIS="timingmeta mode=ingress ! motionskip mode=adaptive ! queue max-size-buffers=8 \
  ! yolodetect model=$DET classes=shuttle fill=interpolate ! posedetect model=$POSE fill=interpolate \
  ! courtcalib sport=${COURTVISION_SPORT:-badminton} ! objecttrack ! shuttletrack ! overlayrender hud=true ! timingmeta mode=egress"
# The same for a live source (rtsp.sh, camera.sh): a leaky queue first, so a source that cannot
# be kept up with drops its oldest frames instead of falling behind, then one frame a batch and
# the last results held for skipped frames (docs/command.md, the live policy).
LIVE_ANALYSIS="timingmeta mode=ingress \
  ! queue leaky=downstream max-size-buffers=8 max-size-bytes=0 max-size-time=0 \
  ! motionskip mode=adaptive keep-flights=false \
  ! yolodetect model=$DET classes=shuttle fill=hold batch-size=1 \
  ! posedetect model=$POSE fill=hold batch-size=1 ! objecttrack ! shuttletrack \
  ! overlayrender hud=true ! timingmeta mode=egress"
