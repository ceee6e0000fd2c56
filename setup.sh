#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Installs what courtvision needs on Debian 12 (bookworm): GStreamer 1.22 development packages
# and plugins, meson/ninja, PyGObject with GStreamer's overrides and a C compiler (the Python
# and C examples, which the tests run), and ONNX Runtime 1.31.1 (the onnxruntime PyPI wheel
# ships libonnxruntime.so, which the elements load at run time) with numpy and onnx for the
# scripts, py-motmetrics and TrackEval (the tracking measures are checked against them);
# GStreamer's RTSP server library (the `courtvision` command serves annotated video
# over RTSP; its tests run a camera that is killed and restarted) and Chromium (its dashboard in a real headless browser), and Node.js
# with npm where missing (the dashboard's charting library is bundled from npm at build time).
# For the job queue and the results database: Mosquitto and the NATS server (the tests start
# their own on free ports, so that they can kill and restart them) and PostgreSQL, which is
# started here with a role for this user and a `test` database (the tests' schemas live there).
# Idempotent: does nothing when everything is already there.
set -euo pipefail

APT_PACKAGES=(
  pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  meson ninja-build python3-pip gcc
  python3-gi python3-gst-1.0 gir1.2-gst-plugins-base-1.0
  libgstrtspserver-1.0-dev gir1.2-gst-rtsp-server-1.0 chromium
  mosquitto nats-server postgresql
)
PIP_PACKAGES=(onnxruntime==1.31.1 numpy onnx motmetrics==1.4.0 trackeval==1.3.0)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

if ! command -v npm >/dev/null; then APT_PACKAGES+=(nodejs npm); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = (m.version("onnxruntime") == "1.31.1" and m.version("motmetrics") == "1.4.0"
      and m.version("trackeval") == "1.3.0")
for p in ("numpy", "onnx"):
    m.version(p)
sys.exit(0 if ok else 1)
PY
then
  echo "setup: installing ${PIP_PACKAGES[*]}"
  python3 -m pip install -q "${PIP_PACKAGES[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${PIP_PACKAGES[@]}"
fi

# PostgreSQL: running, with a role for this user and the `test` database.
user=$(id -un)
if ! psql -h /var/run/postgresql -d test -c 'SELECT 1' >/dev/null 2>&1; then
  if ! pg_isready -q -h /var/run/postgresql 2>/dev/null; then
    echo "setup: starting PostgreSQL"
    cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}')
    if [ -n "$cluster" ]; then
      $SUDO pg_ctlcluster $cluster start || true
    else
      $SUDO service postgresql start || true
    fi
    for _ in $(seq 30); do pg_isready -q -h /var/run/postgresql && break; sleep 1; done
  fi
  as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
  as_pg "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$user'\" | grep -q 1 || createuser -s '$user'"
  as_pg "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\" | grep -q 1 || createdb -O '$user' test"
fi

# The dashboard test drives Chromium with playwright-core (pinned by its package-lock.json).
browser=apps/courtvision/tests/browser
if [ ! -d "$browser/node_modules/playwright-core" ]; then
  echo "setup: installing the dashboard test's packages (npm ci)"
  (cd "$(dirname "$0")/$browser" && npm ci --no-audit --no-fund -q)
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install Rust (rustup) first" >&2
  exit 1
fi
echo "setup: ready (GStreamer $(pkg-config --modversion gstreamer-1.0), onnxruntime $(python3 -c 'import onnxruntime; print(onnxruntime.__version__)'))"
