// SPDX-License-Identifier: MIT OR Apache-2.0
//! `metapublish`: publishes every frame's courtvision record (metaexport's JSON) to an MQTT
//! broker or a NATS server, without ever holding the stream up (see imp.rs and sender.rs).

use gst::glib;
use gst::prelude::*;

mod imp;
mod sender;

glib::wrapper! {
    pub struct MetaPublish(ObjectSubclass<imp::MetaPublish>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "metapublish",
        gst::Rank::NONE,
        MetaPublish::static_type(),
    )
}
