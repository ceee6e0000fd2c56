// SPDX-License-Identifier: MIT OR Apache-2.0
//! `overlayrender`: draws the courtvision metadata onto the video in place (see imp.rs).

use gst::glib;
use gst::prelude::*;

mod draw;
mod imp;

glib::wrapper! {
    pub struct OverlayRender(ObjectSubclass<imp::OverlayRender>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "overlayrender",
        gst::Rank::NONE,
        OverlayRender::static_type(),
    )
}
