# Shared by the pipeline scripts: builds the launcher and picks the models.
# The default models are courtvision's own (models/: player + shuttle detector, player pose
# model, trained on courtsrc); COURTVISION_DET_MODEL / COURTVISION_POSE_MODEL override them.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --example cvlaunch -q
LAUNCH=$PWD/target/release/examples/cvlaunch
DET=${COURTVISION_DET_MODEL:-$PWD/models/courtvision-det.onnx}
POSE=${COURTVISION_POSE_MODEL:-$PWD/models/courtvision-pose.onnx}
# The analysis chain between a decoded source and an encoder/sink.
ANALYSIS="timingmeta mode=ingress ! motionskip mode=adaptive ! queue max-size-buffers=8 \
  ! yolodetect model=$DET fill=interpolate ! posedetect model=$POSE fill=interpolate \
  ! overlayrender hud=true ! timingmeta mode=egress"
