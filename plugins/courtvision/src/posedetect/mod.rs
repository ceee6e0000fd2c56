//! `posedetect`: see imp.rs for what it does; properties are shared with the other detector
//! element and listed in `gst-inspect-1.0 posedetect`.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct PoseDetect(ObjectSubclass<imp::PoseDetect>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "posedetect",
        gst::Rank::NONE,
        PoseDetect::static_type(),
    )
}
