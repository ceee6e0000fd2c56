// SPDX-License-Identifier: MIT OR Apache-2.0
//! Pad templates the elements share (not an element).

/// Raw video in the formats courtvision reads and draws directly: RGB, RGBA, BGR, BGRx, I420,
/// NV12 (yolodetect, posedetect, motionskip, overlayrender).
pub fn raw_video_templates() -> Vec<gst::PadTemplate> {
    templates(&raw_video_caps(None))
}

/// [`raw_video_templates`] plus the same formats in CUDA device memory (yolodetect,
/// posedetect: they read frames from nvh264dec where it decoded them; an element that cannot
/// takes them out of its caps answers at run time).
pub fn detector_templates() -> Vec<gst::PadTemplate> {
    let mut caps = raw_video_caps(None);
    caps.merge(raw_video_caps(Some(crate::detector::cudamem::CUDA_MEMORY)));
    templates(&caps)
}

fn raw_video_caps(feature: Option<&str>) -> gst::Caps {
    let builder = gst_video::VideoCapsBuilder::new().format_list([
        gst_video::VideoFormat::Rgb,
        gst_video::VideoFormat::Rgba,
        gst_video::VideoFormat::Bgr,
        gst_video::VideoFormat::Bgrx,
        gst_video::VideoFormat::I420,
        gst_video::VideoFormat::Nv12,
    ]);
    match feature {
        Some(f) => builder.features([f]).build(),
        None => builder.build(),
    }
}

/// Any caps (metaexport, timingmeta: they only read metadata).
pub fn any_templates() -> Vec<gst::PadTemplate> {
    templates(&gst::Caps::new_any())
}

fn templates(caps: &gst::Caps) -> Vec<gst::PadTemplate> {
    vec![
        gst::PadTemplate::new(
            "src",
            gst::PadDirection::Src,
            gst::PadPresence::Always,
            caps,
        )
        .unwrap(),
        gst::PadTemplate::new(
            "sink",
            gst::PadDirection::Sink,
            gst::PadPresence::Always,
            caps,
        )
        .unwrap(),
    ]
}
