// SPDX-License-Identifier: MIT OR Apache-2.0
//! `objecttrack`: keeps each detected player's identity over the stream (see imp.rs).

use gst::glib;
use gst::prelude::*;

mod appearance;
mod court;
mod imp;
pub mod tracker;

glib::wrapper! {
    pub struct ObjectTrack(ObjectSubclass<imp::ObjectTrack>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "objecttrack",
        gst::Rank::NONE,
        ObjectTrack::static_type(),
    )
}
