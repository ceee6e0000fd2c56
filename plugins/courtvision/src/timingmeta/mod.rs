// SPDX-License-Identifier: MIT OR Apache-2.0
//! `timingmeta`: stamps ingress time, or measures end-to-end latency at egress (see imp.rs).

use gst::glib;
use gst::prelude::*;

mod imp;
pub mod stats;

glib::wrapper! {
    pub struct TimingMeta(ObjectSubclass<imp::TimingMeta>) @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// `mode` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstCourtvisionTimingMode")]
pub enum Mode {
    #[default]
    #[enum_value(
        name = "Ingress: stamp the wall-clock time frames enter the pipeline",
        nick = "ingress"
    )]
    Ingress = 0,
    #[enum_value(
        name = "Egress: measure latency and stage times, post statistics",
        nick = "egress"
    )]
    Egress = 1,
}

/// Name of the element message egress posts.
pub const MESSAGE: &str = "courtvision-timing";

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "timingmeta",
        gst::Rank::NONE,
        TimingMeta::static_type(),
    )
}
