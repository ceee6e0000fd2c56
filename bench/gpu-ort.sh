#!/usr/bin/env bash
# On the GPU host: joins the two halves of ONNX Runtime CUDA copied to /tmp/ortx by the first two
# calls of a visit (see gpu-pack.sh) and unpacks it to /tmp/ort, then checks that it loads.
set -euo pipefail
cat /tmp/ortx/cudaxz.part00 /tmp/ortx/cudaxz.part01 > /tmp/ortx/libonnxruntime_providers_cuda.so.xz
. /tmp/ortx/gpu-env.sh /tmp/ortx
ls -la /tmp/ort
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
