// SPDX-License-Identifier: MIT OR Apache-2.0
//! Helpers of the command's tests: rendered match clips and GStreamer for the tests' own
//! pipelines.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Once;

use gst::prelude::*;

/// Renders `frames` frames of a match (courtsrc seed) into an H.264 MP4.
pub fn clip(path: &Path, seed: u64, frames: u32) {
    init();
    let p = gst::parse::launch(&format!(
        "courtsrc seed={seed} num-buffers={frames} ! video/x-raw,width=320,height=180,framerate=30/1 \
         ! videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! mp4mux \
         ! filesink location={}",
        path.display()
    ))
    .unwrap();
    play_to_eos(&p);
}

/// GStreamer, with courtsrc, for the test's own pipelines.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstcourtsrc::plugin_register_static().unwrap();
    });
}

/// Plays `p` to its end, which must be EOS, not an error.
pub fn play_to_eos(p: &gst::Element) {
    p.set_state(gst::State::Playing).unwrap();
    let msg = p
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or an error within 60 s");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    p.set_state(gst::State::Null).unwrap();
}
