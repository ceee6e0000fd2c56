//! `yolodetect`: see imp.rs for what it does; properties are shared with the other detector
//! element and listed in `gst-inspect-1.0 yolodetect`.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct YoloDetect(ObjectSubclass<imp::YoloDetect>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "yolodetect",
        gst::Rank::NONE,
        YoloDetect::static_type(),
    )
}
