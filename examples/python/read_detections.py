#!/usr/bin/python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Reads courtvision's results in Python: boxes and keypoints from the ROI metas of the
buffers an appsink receives, with the stock GStreamer API (no courtvision module).

Needs PyGObject with GStreamer's overrides (Debian: python3-gi python3-gst-1.0
gir1.2-gst-plugins-base-1.0; the overrides turn the keypoints' GstValueArray into a Python
sequence), run by the Python those packages belong to (/usr/bin/python3 on Debian), and the
courtvision plugin where GStreamer finds it (GST_PLUGIN_PATH).

    read_detections.py [--det MODEL] [--pose MODEL] [--frames N] [URI]

Without a URI it analyses N frames of videotestsrc. Prints one line per frame and one per
detection: label, confidence, box (x, y, w, h in frame pixels), the element that found it and
its keypoints (x, y, score).
"""
import argparse
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "models")


def detections(buffer):
    """(label, confidence, (x, y, w, h), source, keypoints) for each ROI meta of `buffer`.

    GStreamer 1.22's Python bindings cannot iterate a buffer's metas, but courtvision numbers
    its ROI metas 0, 1, 2, ... on each buffer, so they are fetched by id until one is missing.
    """
    found = []
    i = 0
    while True:
        roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buffer, i)
        if roi is None:
            return found
        param = roi.get_param("detection")
        keypoints = []
        if param is not None and param.has_field("keypoints"):
            keypoints = [tuple(k) for k in param.get_value("keypoints")]
        found.append((
            param.get_value("label") if param else "",
            param.get_value("confidence") if param else float("nan"),
            (roi.x, roi.y, roi.w, roi.h),
            param.get_value("source") if param else "",
            keypoints,
        ))
        i += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("uri", nargs="?", help="a video (file:// or any URI uridecodebin takes)")
    ap.add_argument("--det", default=os.path.join(MODELS, "courtvision-det.onnx"))
    ap.add_argument("--pose", default=os.path.join(MODELS, "courtvision-pose.onnx"))
    ap.add_argument("--frames", type=int, default=30, help="videotestsrc frames without a URI")
    args = ap.parse_args()

    Gst.init(None)
    if Gst.ElementFactory.find("yolodetect") is None:
        sys.exit("read_detections: the courtvision plugin is not found (set GST_PLUGIN_PATH)")
    if args.uri:
        source = f'uridecodebin uri="{args.uri}"'
    else:
        source = f"videotestsrc num-buffers={args.frames} ! video/x-raw,width=640,height=360"
    pipeline = Gst.parse_launch(
        f'{source} ! videoconvert ! yolodetect model="{args.det}" '
        f'! posedetect model="{args.pose}" ! appsink name=sink sync=false'
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frame = 0
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buffer = sample.get_buffer()
        found = detections(buffer)
        pts = buffer.pts / Gst.SECOND if buffer.pts != Gst.CLOCK_TIME_NONE else float("nan")
        print(f"frame {frame} pts {pts:.3f} s: {len(found)} detections")
        for label, conf, box, source_name, kps in found:
            line = f"  {label} {conf:.3f} box {box} from {source_name}"
            if kps:
                line += " keypoints " + " ".join(f"({x:.1f},{y:.1f},{s:.2f})" for x, y, s in kps)
            print(line)
        frame += 1
    bus = pipeline.get_bus()
    msg = bus.pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is not None:
        err, debug = msg.parse_error()
        sys.exit(f"read_detections: {msg.src.get_name()}: {err.message}")


if __name__ == "__main__":
    main()
