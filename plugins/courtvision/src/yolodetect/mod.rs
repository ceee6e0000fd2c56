// SPDX-License-Identifier: MIT OR Apache-2.0
//! `yolodetect`: a subclass of the detector base class (see imp.rs and docs/elements/yolodetect.md).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct YoloDetect(ObjectSubclass<imp::YoloDetect>)
        @extends crate::detector::Detector, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "yolodetect",
        gst::Rank::NONE,
        YoloDetect::static_type(),
    )
}
