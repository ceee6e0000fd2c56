// SPDX-License-Identifier: MIT OR Apache-2.0
//! `shuttletrack`: the shuttle (or ball) as one trajectory per flight (see imp.rs).

use gst::glib;
use gst::prelude::*;

mod imp;
mod shots;
pub mod trajectory;

glib::wrapper! {
    pub struct ShuttleTrack(ObjectSubclass<imp::ShuttleTrack>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "shuttletrack",
        gst::Rank::NONE,
        ShuttleTrack::static_type(),
    )
}
