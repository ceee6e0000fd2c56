# Shared by the pipeline scripts: builds the launcher and picks the models.
# COURTVISION_DET_MODEL / COURTVISION_POSE_MODEL override the models; until courtvision ships
# trained defaults (models/, issue 5) these are the random-weight test exports of ../shared/models.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --example cvlaunch -q
LAUNCH=$PWD/target/release/examples/cvlaunch
DET=${COURTVISION_DET_MODEL:-$PWD/../shared/models/yolo11n-det-dyn.onnx}
POSE=${COURTVISION_POSE_MODEL:-$PWD/../shared/models/yolo11n-pose-dyn.onnx}
# The analysis chain between a decoded source and an encoder/sink.
ANALYSIS="timingmeta mode=ingress ! motionskip mode=adaptive ! queue max-size-buffers=8 \
  ! yolodetect model=$DET fill=interpolate ! posedetect model=$POSE fill=interpolate \
  ! overlayrender hud=true ! timingmeta mode=egress"
