// SPDX-License-Identifier: MIT OR Apache-2.0
//! `metaexport`: writes every frame's courtvision metadata as JSON Lines (see imp.rs).

use gst::glib;
use gst::prelude::*;

mod imp;
mod summary;

glib::wrapper! {
    pub struct MetaExport(ObjectSubclass<imp::MetaExport>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "metaexport",
        gst::Rank::NONE,
        MetaExport::static_type(),
    )
}
