// SPDX-License-Identifier: MIT OR Apache-2.0
//! `posedetect`: a subclass of the detector base class (see imp.rs and docs/elements/posedetect.md).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct PoseDetect(ObjectSubclass<imp::PoseDetect>)
        @extends crate::detector::Detector, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "posedetect",
        gst::Rank::NONE,
        PoseDetect::static_type(),
    )
}
