#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# Packs a relocatable GStreamer runtime from this Debian machine into OUT.tar.xz: the launch and
# inspect tools, the plugin scanner, the plugins bench/gpu.sh uses (NVDEC among them) and every
# library they need beyond glibc and libstdc++. bench/gpu.sh unpacks it to /tmp/gst.
#   bench/gst-runtime.sh OUT.tar.xz [EXTRA-PLUGIN.so | PROGRAM ...]
# A PROGRAM is not packed; the libraries it needs are (the courtvision command's RTSP server).
set -euo pipefail
out=$1; shift
stage=$(mktemp -d)/gst
mkdir -p "$stage/lib" "$stage/plugins" "$stage/bin"
P=/usr/lib/x86_64-linux-gnu/gstreamer-1.0
for p in coreelements videotestsrc videoconvertscale app isomp4 videoparsersbad nvcodec \
         multifile typefindfunctions; do
  cp "$P/libgst$p.so" "$stage/plugins/"
done
programs=()
for extra in "$@"; do
  case $extra in
    *.so) cp "$extra" "$stage/plugins/" ;;
    *) programs+=("$extra") ;;
  esac
done
cp /usr/bin/gst-launch-1.0 /usr/bin/gst-inspect-1.0 "$stage/bin/"
cp /usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner "$stage/bin/"
for f in "$stage"/plugins/*.so "$stage"/bin/* "${programs[@]}"; do ldd "$f" | awk '/=>/ {print $3}'; done | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
tar -C "$(dirname "$stage")" -cf - gst | xz -9 -T0 > "$out"
rm -rf "$(dirname "$stage")"
